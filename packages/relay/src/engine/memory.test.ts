import { describe, expect, test } from 'vitest';
import { describeEngine } from '../test-support/engine-contract.js';
import { MemoryEngine } from './memory.js';
import type { NewEntry, OpenRequest } from './types.js';

describeEngine('memory', { make: async (clock) => new MemoryEngine({ now: clock.now }) });

const open = (id: string, ownerKey: string): OpenRequest => ({ id, siteKey: 'site1', ownerKey, visitorId: 'v1', context: {} });
const text = (id: string): NewEntry => ({ kind: 'msg', id, from: { role: 'visitor' }, body: { type: 'text', text: id } });
const minute = { maxMessages: 100, maxAgeMs: 60_000 };

describe('memory engine', () => {
  test('dedupe ids past the window are forgotten: the log keeps one window of them, each with its time', async () => {
    let now = 0;
    const engine = new MemoryEngine({ now: () => now });
    await engine.openConversation(open('c1', 'u:ann'));
    const retention = { maxMessages: 1000, maxAgeMs: 3600_000 };
    for (let i = 1; i <= 2500; i++) {
      now = i;
      await engine.append({ conversationId: 'c1', entry: text(`m${i}`), retention });
    }
    const log = (engine as unknown as { conversations: Map<string, { log: { ids: Map<string, number>; recent: unknown[]; recentHead: number } }> }).conversations.get('c1')!.log;
    expect(log.ids.size).toBe(1000);
    expect(log.recent.length - log.recentHead).toBe(1000);
    // Inside the window: a duplicate, with the seq and time of its first append.
    expect(await engine.append({ conversationId: 'c1', entry: text('m1501'), retention })).toMatchObject({ duplicate: true, seq: 1501, ts: 1501 });
    // Past it: new again.
    expect(await engine.append({ conversationId: 'c1', entry: text('m1500'), retention })).toMatchObject({ duplicate: false, seq: 2501 });
  });

  test('sweep drops expired entries, then forgets the idle conversation and its owner mapping', async () => {
    let now = 0;
    const engine = new MemoryEngine({ now: () => now });
    await engine.openConversation(open('c1', 'u:ann'));
    await engine.append({ conversationId: 'c1', entry: text('m1'), retention: minute });
    now = 30_000;
    await engine.append({ conversationId: 'c1', entry: text('m2'), retention: minute });
    now = 70_000;
    engine.sweep();
    expect(await engine.read('c1', 0, 10)).toMatchObject({ lastSeq: 2, entries: [{ id: 'm2' }] });
    // The last append was at 30 s: the conversation is idle for longer than maxAge once m2 expires.
    engine.sweep(90_000);
    expect(await engine.read('c1', 0, 10)).toMatchObject({ lastSeq: 2, entries: [{ id: 'm2' }] });
    expect(await engine.currentConversation('site1', 'u:ann')).toBe('c1');
    engine.sweep(90_001);
    expect(await engine.getConversation('c1')).toBeNull();
    expect(await engine.currentConversation('site1', 'u:ann')).toBeNull();
    expect(await engine.countConversations()).toBe(0);
    expect(await engine.openConversation(open('c2', 'u:ann'))).toMatchObject({ created: true, conversation: { id: 'c2' } });
  });

  test('sweep forgets a conversation never appended to after emptyConversationTtlMs, keeping a newer current one', async () => {
    let now = 0;
    const engine = new MemoryEngine({ now: () => now, emptyConversationTtlMs: 1000 });
    await engine.openConversation(open('old', 'u:ann'));
    now = 500;
    await engine.openConversation({ ...open('new', 'u:ann'), replace: true });
    engine.sweep(1000);
    expect(await engine.getConversation('old')).not.toBeNull();
    engine.sweep(1001);
    expect(await engine.getConversation('old')).toBeNull();
    expect(await engine.currentConversation('site1', 'u:ann')).toBe('new');
    engine.sweep(1501);
    expect(await engine.currentConversation('site1', 'u:ann')).toBeNull();
  });

  test('dead letters are capped per site at maxDeadLetters, newest kept', async () => {
    const engine = new MemoryEngine({ now: () => 0, maxDeadLetters: 3 });
    await engine.openConversation(open('c1', 'u:ann'));
    for (let i = 1; i <= 5; i++) await engine.append({ conversationId: 'c1', entry: text(`m${i}`), retention: minute, webhook: 'message.created' });
    for (let i = 1; i <= 5; i++) {
      const [job] = await engine.claimWebhooks(1, 1000);
      await engine.deadLetter(job!.id, job!.lease, { code: 'WEBHOOK_FAILED', message: 'x' });
    }
    const ids = (await engine.listDeadLetters('site1')).map((d) => ('message' in d.event.data ? d.event.data.message.id : ''));
    expect(ids).toEqual(['m3', 'm4', 'm5']);
  });

  test('claimed events and fanned-out entries are shared frozen: changing them throws and changes nothing stored', async () => {
    const engine = new MemoryEngine({ now: () => 0 });
    await engine.openConversation(open('c1', 'u:ann'));
    const seen: unknown[] = [];
    await engine.subscribe('c:c1', (item) => seen.push(item));
    await engine.append({ conversationId: 'c1', entry: text('m1'), retention: minute, webhook: 'message.created' });
    const [item] = seen as [{ entry: { body: { text: string } } }];
    expect(() => {
      item.entry.body.text = 'changed';
    }).toThrow(TypeError);
    const [job] = await engine.claimWebhooks(1, 1000);
    const event = job!.event as { data: { message: { body: { text: string } } } };
    expect(() => {
      event.data.message.body.text = 'changed';
    }).toThrow(TypeError);
    job!.attempts = 99;
    await engine.retryWebhook(job!.id, job!.lease, 0, { code: 'WEBHOOK_FAILED', message: 'x' });
    const [again] = await engine.claimWebhooks(1, 1000);
    expect(again).toMatchObject({ attempts: 2, event: { data: { message: { id: 'm1', body: { text: 'm1' } } } } });
    expect(await engine.read('c1', 0, 10)).toMatchObject({ entries: [{ id: 'm1', body: { text: 'm1' } }] });
  });

  test('a listener error goes to onListenerError', async () => {
    const errors: unknown[] = [];
    const engine = new MemoryEngine({ onListenerError: (error) => errors.push(error) });
    await engine.openConversation(open('c1', 'u:ann'));
    await engine.subscribe('c:c1', () => {
      throw new Error('listener bug');
    });
    await engine.append({ conversationId: 'c1', entry: text('m1'), retention: minute });
    expect(errors).toMatchObject([{ message: 'listener bug' }]);
  });
});
