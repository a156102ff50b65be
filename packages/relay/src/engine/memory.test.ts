import { describe, expect, test } from 'vitest';
import { MemoryEngine } from './memory.js';
import type { WebhookJob } from './types.js';

const retention = { maxMessages: 3, maxAgeMs: 60_000 };
const text = (t: string) => ({ type: 'text' as const, text: t });

function job(id: string, conversationId: string, dueAt = 0): WebhookJob {
  return { id, siteKey: 's', conversationId, event: { id } as never, attempts: 0, enqueuedAt: 0, dueAt };
}

describe('memory engine', () => {
  test('appends are idempotent on the id and numbered in order', async () => {
    const e = new MemoryEngine({ now: () => 1000 });
    const a = await e.append('c', { kind: 'msg', id: 'a', ts: 1, from: { role: 'visitor' }, body: text('a') }, retention);
    const again = await e.append('c', { kind: 'msg', id: 'a', ts: 2, from: { role: 'visitor' }, body: text('changed') }, retention);
    const b = await e.append('c', { kind: 'event', id: 'b', ts: 3, event: { type: 'queue', position: 1 } }, retention);
    expect([a.entry.seq, again.entry.seq, again.duplicate, b.entry.seq]).toEqual([1, 1, true, 2]);
    expect(again.entry).toMatchObject({ body: text('a') });
    expect(await e.read('c', 0, 10)).toMatchObject({ lastSeq: 2, hasMore: false, entries: [{ id: 'a' }, { id: 'b' }] });
    expect(await e.read('c', 1, 10)).toMatchObject({ entries: [{ id: 'b' }] });
    expect(await e.read('c', 0, 1)).toMatchObject({ entries: [{ id: 'a' }], hasMore: true });
  });

  test('retention keeps the newest maxMessages and drops entries older than maxAge', async () => {
    let now = 0;
    const e = new MemoryEngine({ now: () => now });
    for (let i = 1; i <= 5; i++) await e.append('c', { kind: 'msg', id: `m${i}`, ts: now, from: { role: 'bot' }, body: text(`${i}`) }, retention);
    expect((await e.read('c', 0, 10)).entries.map((x) => x.seq)).toEqual([3, 4, 5]);
    now = 120_000;
    await e.append('c', { kind: 'msg', id: 'm6', ts: now, from: { role: 'bot' }, body: text('6') }, retention);
    expect((await e.read('c', 0, 10)).entries.map((x) => x.seq)).toEqual([6]);
    // A log with nothing younger than maxAge is forgotten by the sweep.
    now = 300_000;
    e.sweep(now);
    expect(await e.read('c', 0, 10)).toEqual({ entries: [], lastSeq: 0, hasMore: false });
  });

  test('webhook claims are due-ordered, one in flight per conversation, and leases expire', async () => {
    const e = new MemoryEngine();
    await e.enqueueWebhooks([job('a1', 'A'), job('a2', 'A'), job('b1', 'B'), job('later', 'C', 500)]);
    expect((await e.claimWebhooks(0, 10, 100)).map((j) => j.id)).toEqual(['a1', 'b1']);
    expect(await e.claimWebhooks(0, 10, 100)).toEqual([]);
    await e.completeWebhook('a1');
    expect((await e.claimWebhooks(0, 10, 100)).map((j) => j.id)).toEqual(['a2']);
    // b1's lease ran out: it can be claimed again; `later` is now due.
    expect((await e.claimWebhooks(600, 10, 100)).map((j) => j.id).sort()).toEqual(['a2', 'b1', 'later']);
    await e.deadLetter({ ...job('b1', 'B'), attempts: 3, lastError: { code: 'WEBHOOK_FAILED', message: 'x', status: 500 } });
    expect(await e.listDeadLetters('s')).toMatchObject([{ attempts: 3, lastError: { status: 500 } }]);
  });

  test('markStarted is true exactly once', async () => {
    const e = new MemoryEngine();
    await e.createConversation({ id: 'c', siteKey: 's', visitorId: 'v', createdAt: 0, started: false, closed: false, context: {}, readSeq: 0 }, 'v:v');
    expect(await Promise.all([e.markStarted('c'), e.markStarted('c')])).toEqual([true, false]);
    expect(await e.currentConversation('s', 'v:v')).toBe('c');
  });
});
