import { afterEach, describe, expect, test } from 'vitest';
import { RelayError, createRelayClient, verifyWebhook } from '@parley/backend';
import type { AppendRequest, AppendResult } from './engine/types.js';
import { MemoryEngine } from './engine/memory.js';
import { API_SECRET, API_SECRET_2, TestClient, WEBHOOK_SECRET, eventually, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';
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

describe('context.updated webhooks are coalesced per conversation', () => {
  test('a burst of context frames costs one webhook at once and one with the latest context at the end of the interval', async () => {
    // An interval longer than the burst takes to handle on a loaded machine: a burst that spans two
    // intervals rightly costs a webhook more.
    const { backend, open } = await setup({ limits: { contextUpdateIntervalMs: 1500 } });
    const tabs = [await open(), await open()];
    const w = await tabs[0]!.hello();
    await tabs[1]!.hello({ token: w.token });
    tabs[0]!.send({ t: 'send', id: 'm', body: text('hi') });
    await tabs[0]!.take('ack');
    await backend.waitFor(2); // conversation.started, message.created
    for (let i = 1; i <= 60; i++) tabs[i % 2]!.send({ t: 'context', page: { url: `https://shop.example/p/${i}`, title: `Product ${i}` } });
    const got = await backend.waitFor(4);
    const titleOf = (r: { json: { data: unknown } } | undefined) => (r?.json.data as { context?: { page?: { title?: string } } } | undefined)?.context?.page?.title;
    const updates = () => backend.received.filter((r) => r.json.type === 'context.updated');
    expect(titleOf(updates()[0])).toMatch(/^Product \d+$/);
    // The trailing webhook carries the last page sent.
    await eventually(() => titleOf(updates()[1]) === 'Product 60', 5000);
    await new Promise((r) => setTimeout(r, 1800));
    expect(updates()).toHaveLength(2);
    expect(got.map((r) => r.json.type).slice(0, 3)).toEqual(['conversation.started', 'message.created', 'context.updated']);

    // Another conversation has its own window.
    const other = await open();
    await other.hello();
    other.send({ t: 'send', id: 'm2', body: text('hi') });
    await other.take('ack');
    other.send({ t: 'context', page: { url: 'https://shop.example/cart', title: 'Cart' } });
    await eventually(() => backend.received.some((r) => r.json.type === 'context.updated' && titleOf(r) === 'Cart'), 3000);
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

describe('GET /v1/conversations pages with a cursor', () => {
  /** A relay whose memory engine holds `count` conversations of pk_test, one per millisecond, and 3 of pk_other. */
  async function withConversations(count: number) {
    let t = 1_700_000_000_000;
    const engine = new MemoryEngine({ now: () => t });
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      t += 1;
      ids.push((await engine.openConversation({ id: `c_${i}`, siteKey: 'pk_test', ownerKey: `v:${i}`, visitorId: `v_${i}`, context: {} })).conversation.id);
    }
    for (let i = 0; i < 3; i++) await engine.openConversation({ id: `o_${i}`, siteKey: 'pk_other', ownerKey: `v:o${i}`, visitorId: `v_o${i}`, context: {} });
    const { relay } = await setup({ engine });
    return { relay, newestFirst: [...ids].reverse() };
  }

  test('following nextCursor lists every conversation of the site once, newest first, and the last page says null', async () => {
    const { relay, newestFirst } = await withConversations(250);
    const seen: string[] = [];
    const sizes: number[] = [];
    let path = '/v1/conversations?limit=100';
    for (;;) {
      const { status, json } = await relay.api('GET', path);
      expect(status).toBe(200);
      sizes.push(json.items.length);
      seen.push(...json.items.map((c: { id: string }) => c.id));
      if (json.nextCursor === null) break;
      expect(json.nextCursor).toMatch(/^[\w-]+$/);
      path = `/v1/conversations?limit=100&cursor=${json.nextCursor}`;
    }
    expect(sizes).toEqual([100, 100, 50]);
    expect(seen).toEqual(newestFirst);
    // Without a limit, the whole site fits the default page of 1,000.
    const all = (await relay.api('GET', '/v1/conversations')).json;
    expect(all.items).toHaveLength(250);
    expect(all.nextCursor).toBeNull();
    expect(all.items[0]).toEqual({ id: newestFirst[0], visitorId: 'v_249', createdAt: 1_700_000_000_250, lastSeq: 0, closed: false, started: false, readSeq: 0, context: {} });
  });

  test('a page holds at most 1,000 conversations, whatever limit asks for', async () => {
    const { relay, newestFirst } = await withConversations(1003);
    const first = (await relay.api('GET', '/v1/conversations?limit=5000')).json;
    expect(first.items).toHaveLength(1000);
    const byDefault = (await relay.api('GET', '/v1/conversations')).json;
    expect(byDefault.items).toHaveLength(1000);
    expect(byDefault.nextCursor).toBe(first.nextCursor);
    const rest = (await relay.api('GET', `/v1/conversations?cursor=${first.nextCursor}`)).json;
    expect(rest.items.map((c: { id: string }) => c.id)).toEqual(newestFirst.slice(1000));
    expect(rest.nextCursor).toBeNull();
    const zero = await relay.api('GET', '/v1/conversations?limit=0');
    expect([zero.status, zero.json.error.code]).toEqual([400, 'BAD_REQUEST']);
    // The history endpoint answers page sizes the same way: 0 refused, over the cap cut to it.
    const conversationId = newestFirst[0];
    const history0 = await relay.api('GET', `/v1/conversations/${conversationId}/messages?limit=0`);
    expect([history0.status, history0.json.error.code]).toEqual([400, 'BAD_REQUEST']);
    expect((await relay.api('GET', `/v1/conversations/${conversationId}/messages?limit=5000`)).status).toBe(200);
  });

  test('a cursor the relay did not give out answers 400 BAD_CURSOR; a bad limit answers BAD_REQUEST', async () => {
    const { relay } = await withConversations(3);
    const page = (await relay.api('GET', '/v1/conversations?limit=1')).json;
    for (const cursor of ['nope', '', encodeURIComponent('a+b/c='), `${page.nextCursor}x`, 'x'.repeat(500)]) {
      const res = await relay.api('GET', `/v1/conversations?cursor=${cursor}`);
      expect(res, cursor).toMatchObject({ status: 400, json: { error: { code: 'BAD_CURSOR' } } });
    }
    expect(await relay.api('GET', '/v1/conversations?limit=ten')).toMatchObject({ status: 400, json: { error: { code: 'BAD_REQUEST' } } });
    // Another site's cursor is only a position: this site's conversations older than it, nothing of the other site's.
    const other = (await relay.api('GET', '/v1/conversations?limit=1', undefined, API_SECRET_2)).json;
    const listed = await relay.api('GET', `/v1/conversations?cursor=${other.nextCursor}`);
    expect(listed.status).toBe(200);
    expect(listed.json.items.every((c: { id: string }) => c.id.startsWith('c_'))).toBe(true);
  });

  test("@parley/backend's client pages with listConversations and walks every page with eachConversation", async () => {
    const { relay, newestFirst } = await withConversations(7);
    const client = createRelayClient({ url: relay.base, apiSecret: API_SECRET });
    const first = await client.listConversations({ limit: 3 });
    expect(first.conversations.map((c) => c.id)).toEqual(newestFirst.slice(0, 3));
    const second = await client.listConversations({ limit: 3, cursor: first.nextCursor! });
    expect(second.conversations.map((c) => c.id)).toEqual(newestFirst.slice(3, 6));
    const walked: string[] = [];
    for await (const c of client.eachConversation({ pageSize: 2 })) walked.push(c.id);
    expect(walked).toEqual(newestFirst);
    expect((await client.conversations()).map((c) => c.id)).toEqual(newestFirst);
    const refused = await client.listConversations({ cursor: 'not-ours' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RelayError);
    expect(refused).toMatchObject({ code: 'BAD_CURSOR', status: 400 });
  });
});
