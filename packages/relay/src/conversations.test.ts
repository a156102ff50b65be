import { afterEach, describe, expect, test } from 'vitest';
import { verifyWebhook } from '@parley/backend';
import type { AppendRequest, AppendResult } from './engine/types.js';
import { MemoryEngine } from './engine/memory.js';
import { TestClient, WEBHOOK_SECRET, eventually, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';
import type { BuildAppOptions } from './app.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: BuildAppOptions = {}) {
  const backend = await startBackend();
  cleanups.push(backend.close);
  const engine = (options.engine as MemoryEngine | undefined) ?? new MemoryEngine();
  const relay = await startRelay(testConfig(backend.url), { engine, ...options });
  cleanups.push(relay.close);
  const open = async () => {
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    return c;
  };
  return { backend, relay, engine, open };
}

const text = (t: string) => ({ type: 'text', text: t });

describe('conversations come into being with the visitor’s first action', () => {
  test('a hello without a token stores nothing; the first send stores the conversation under the welcomed id', async () => {
    const { relay, engine, open, backend } = await setup();
    const c = await open();
    const welcome = await c.hello({ page: { url: 'https://shop.example/p/1', title: 'Trail runner' } });
    expect(welcome.lastSeq).toBe(0);
    expect(await engine.countConversations()).toBe(0);
    expect((await relay.api('GET', `/v1/conversations/${welcome.conversationId}/messages`)).status).toBe(404);
    expect((await relay.api('GET', '/v1/conversations')).json.items).toEqual([]);

    c.send({ t: 'context', product: { title: 'Trail runner', price: '€89' } });
    c.send({ t: 'send', id: 'first', body: text('hi') });
    expect(await c.take('ack')).toMatchObject({ id: 'first', seq: 1 });
    expect(await engine.countConversations()).toBe(1);
    const list = (await relay.api('GET', '/v1/conversations')).json.items;
    expect(list).toMatchObject([{ id: welcome.conversationId, lastSeq: 1, started: true, context: { page: { title: 'Trail runner' }, product: { price: '€89' } } }]);
    const events = await backend.waitFor(2);
    expect(events.map((r) => r.json.type)).toEqual(['conversation.started', 'message.created']);
    expect(events[0]!.json.data).toMatchObject({ context: { product: { title: 'Trail runner' } } });
  });

  test('a second tab with the same token sees the conversation the first tab creates', async () => {
    const { open } = await setup();
    const a = await open();
    const w = await a.hello();
    const b = await open();
    expect((await b.hello({ token: w.token })).conversationId).toBe(w.conversationId);
    a.send({ t: 'send', id: 'from-a', body: text('from tab a') });
    await a.take('ack');
    expect(await b.take('msg')).toMatchObject({ id: 'from-a', seq: 1 });
  });

  test('a context over the size cap is refused with TOO_LARGE and nothing is stored', async () => {
    const { relay, open } = await setup({ limits: { maxContextBytes: 1024 } });
    const c = await open();
    const w = await c.hello();
    c.send({ t: 'send', id: 'm', body: text('hi') });
    await c.take('ack');
    const attrs = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, 'x'.repeat(40)]));
    c.send({ t: 'context', attrs });
    expect(await c.take('error')).toMatchObject({ code: 'TOO_LARGE' });
    c.send({ t: 'context', attrs: { plan: 'gold' } });
    await eventually(async () => (await relay.api('GET', '/v1/conversations')).json.items[0]?.context?.attrs?.plan === 'gold');
    const [stored] = (await relay.api('GET', '/v1/conversations')).json.items;
    expect(stored.id).toBe(w.conversationId);
    expect(stored.context.attrs).toEqual({ plan: 'gold' });
  });

  test('two tabs sending context at once lose neither update', async () => {
    const { relay, open } = await setup();
    const a = await open();
    const w = await a.hello();
    a.send({ t: 'send', id: 'm', body: text('hi') });
    await a.take('ack');
    const b = await open();
    await b.hello({ token: w.token });
    a.send({ t: 'context', page: { url: 'https://shop.example/cart', title: 'Cart' }, attrs: { cart: 3 } });
    b.send({ t: 'context', product: { title: 'Socks' }, attrs: { plan: 'gold' } });
    await eventually(async () => {
      const c = (await relay.api('GET', '/v1/conversations')).json.items[0]?.context;
      return c?.page?.title === 'Cart' && c?.product?.title === 'Socks' && c?.attrs?.cart === 3 && c?.attrs?.plan === 'gold';
    });
  });
});

describe('a relay that lost a conversation says so', () => {
  test('a token whose conversation is gone gets a new conversation with reset, and REST answers 404 for the old one', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const first = await startRelay(testConfig(backend.url), { engine: new MemoryEngine() });
    const c = await TestClient.open(first.wsUrl);
    const w1 = await c.hello();
    for (const id of ['a', 'b', 'c']) {
      c.send({ t: 'send', id, body: text(id) });
      await c.take((f) => f.t === 'ack' && f.id === id);
    }
    c.close();
    await first.close();

    // The memory engine restarted: everything is gone.
    const second = await startRelay(testConfig(backend.url), { engine: new MemoryEngine() });
    cleanups.push(second.close);
    const d = await TestClient.open(second.wsUrl);
    cleanups.push(() => d.close());
    const w2 = await d.hello({ token: w1.token, lastSeq: 3 });
    expect(w2).toMatchObject({ reset: true, lastSeq: 0, visitorId: w1.visitorId });
    expect(w2.conversationId).not.toBe(w1.conversationId);
    const gone = await second.api('POST', `/v1/conversations/${w1.conversationId}/messages`, { id: 'r', body: text('late reply') });
    expect(gone).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } });

    // The new conversation starts at seq 1, and the new token resumes it without a reset.
    d.send({ t: 'send', id: 'd', body: text('again') });
    expect(await d.take('ack')).toMatchObject({ seq: 1 });
    d.close();
    const e = await TestClient.open(second.wsUrl);
    cleanups.push(() => e.close());
    const w3 = await e.hello({ token: w2.token, lastSeq: 1 });
    expect(w3.conversationId).toBe(w2.conversationId);
    expect(w3.reset).toBeUndefined();
  });

  test('a log that ends before the client’s lastSeq is replayed from 0 with reset', async () => {
    const { open } = await setup();
    const c = await open();
    const w = await c.hello();
    c.send({ t: 'send', id: 'a', body: text('a') });
    await c.take('ack');
    c.close();
    const d = await open();
    const again = await d.hello({ token: w.token, lastSeq: 30 });
    expect(again).toMatchObject({ conversationId: w.conversationId, reset: true, lastSeq: 1 });
    expect(await d.take('msg')).toMatchObject({ id: 'a', seq: 1 });
  });

  test('a welcome without reset replays after the client’s lastSeq', async () => {
    const { open } = await setup();
    const c = await open();
    const w = await c.hello();
    c.send({ t: 'send', id: 'a', body: text('a') });
    c.send({ t: 'send', id: 'b', body: text('b') });
    await c.take((f) => f.t === 'ack' && f.id === 'b');
    c.close();
    const d = await open();
    const again = await d.hello({ token: w.token, lastSeq: 1 });
    expect(again.reset).toBeUndefined();
    expect(await d.take('msg')).toMatchObject({ id: 'b', seq: 2 });
  });
});

/** A memory engine whose next `failures` appends fail after nothing was written. */
class FlakyEngine extends MemoryEngine {
  failures = 0;
  override async append(request: AppendRequest): Promise<AppendResult | null> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('disk full');
    }
    return super.append(request);
  }
}

describe('an ack is a promise', () => {
  test('a failed append is not acked; the resend is appended once with its webhooks, conversation.started first', async () => {
    const engine = new FlakyEngine();
    const { backend, open } = await setup({ engine });
    const c = await open();
    const w = await c.hello();
    engine.failures = 1;
    c.send({ t: 'send', id: 'm1', body: text('one') });
    expect(await c.take('error')).toMatchObject({ code: 'INTERNAL' });
    expect(c.frames.some((f) => f.t === 'ack')).toBe(false);
    // The client resends from its outbox.
    c.send({ t: 'send', id: 'm1', body: text('one') });
    expect(await c.take('ack')).toMatchObject({ id: 'm1', seq: 1 });
    c.send({ t: 'send', id: 'm2', body: text('two') });
    expect(await c.take('ack')).toMatchObject({ id: 'm2', seq: 2 });
    const got = await backend.waitFor(3);
    await new Promise((r) => setTimeout(r, 150));
    expect(backend.received.map((r) => [r.json.type, messageOf(r.json)?.id])).toEqual([
      ['conversation.started', undefined],
      ['message.created', 'm1'],
      ['message.created', 'm2'],
    ]);
    expect(got.every((r) => r.json.conversationId === w.conversationId)).toBe(true);
  });

  test('webhook retries are signed with a fresh timestamp that @parley/backend accepts with its default tolerance', async () => {
    let clock = Date.now();
    const backend = await startBackend((_req, i) => ({ status: i === 0 ? 500 : 204 }));
    cleanups.push(backend.close);
    const engine = new MemoryEngine({ now: () => clock });
    const relay = await startRelay(testConfig(backend.url), {
      now: () => clock,
      engine,
      webhooks: { retryScheduleMs: [600_000], pollMs: 20 },
      random: () => 0.5,
    });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm', body: text('hi') });
    await c.take('ack');
    await backend.waitFor(1);
    // The failure is noted: the retry is due in ten minutes. Ten minutes pass.
    await eventually(async () => ((await engine.nextWebhookAt()) ?? 0) >= clock + 600_000);
    clock += 600_000;
    const [failed, retried] = await backend.waitFor((r) => r.length >= 2);
    expect(retried!.headers['webhook-id']).toBe(failed!.headers['webhook-id']);
    expect(Number(retried!.headers['webhook-timestamp']) - Number(failed!.headers['webhook-timestamp'])).toBe(600);
    const verify = (r: typeof retried) => verifyWebhook(WEBHOOK_SECRET, r!.headers as Record<string, string>, r!.raw, { now: clock });
    expect(await verify(retried)).toMatchObject({ ok: true, event: { id: retried!.json.id } });
    // The first attempt's timestamp is ten minutes old by now: a replay of it would be refused.
    expect(await verify(failed)).toMatchObject({ ok: false, code: 'WEBHOOK_STALE' });
  });
});
