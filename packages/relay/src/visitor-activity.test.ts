import WebSocket from 'ws';
import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE, decodeBackendServerFrame, type BackendServerFrame } from '@parley/protocol';
import type { RelayConfigInput } from './config.js';
import { MemoryEngine } from './engine/memory.js';
import { API_SECRET, TestClient, eventually, startBackend, startRelay, testConfig } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const INTERVAL = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The test config with `pk_test` changed by `site`. */
function config(webhookUrl: string, site: Record<string, unknown>): RelayConfigInput {
  const base = testConfig(webhookUrl);
  return { ...base, sites: base.sites!.map((s, i) => (i === 0 ? { ...s, ...site } : s)) };
}

/** A memory engine of the test's own (to share between relays, or to watch), closed after it. */
async function memoryEngine(): Promise<MemoryEngine> {
  const engine = new MemoryEngine();
  await engine.start();
  cleanups.push(() => engine.close());
  return engine;
}

async function setup(site: Record<string, unknown> = {}, limits: Record<string, unknown> = {}, engine?: MemoryEngine) {
  const backend = await startBackend();
  cleanups.push(backend.close);
  // A frame budget that lets a burst of 100 frames through: what is counted here is the throttle's.
  const relay = await startRelay(config(backend.url, site), {
    limits: { typingIntervalMs: INTERVAL, rateLimit: { perSecond: 10, burst: 200 }, ...limits },
    ...(engine ? { engine } : {}),
  });
  cleanups.push(relay.close);
  /** A visitor whose conversation is stored (one message sent). */
  const visitor = async () => {
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    const welcome = await c.hello();
    c.send({ t: 'send', id: 'hello-1', body: { type: 'text', text: 'hi' } });
    await c.take('ack');
    return { c, conversationId: welcome.conversationId, welcome };
  };
  return { backend, relay, visitor };
}

/** A merchant backend holding a raw backend socket: records every frame, acks every event. */
async function backendSocket(base: string): Promise<{ frames: BackendServerFrame[]; close: () => void }> {
  const frames: BackendServerFrame[] = [];
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/backend`, { headers: { authorization: `Bearer ${API_SECRET}` } });
  ws.on('message', (data) => {
    const r = decodeBackendServerFrame(data.toString());
    if (!r.ok) throw new Error(`relay sent an invalid backend frame: ${r.message}`);
    frames.push(r.frame);
    if (r.frame.t === 'event') ws.send(JSON.stringify({ t: 'ack', id: r.frame.event.id }));
  });
  ws.on('error', () => {});
  await eventually(() => frames.some((f) => f.t === 'ready'));
  const close = () => ws.close();
  cleanups.push(close);
  return { frames, close };
}

/** 100 typing frames, alternating on and off, ending with off. */
function burst(c: TestClient): void {
  for (let i = 0; i < 100; i++) c.send({ t: 'typing', on: i % 2 === 0 });
}

describe("the visitor's typing and read marks", () => {
  test('reach the backend socket as ephemeral frames: a burst of 100 typing frames costs one on and one off per interval', async () => {
    const { relay, visitor } = await setup();
    const backend = await backendSocket(relay.base);
    const { c, conversationId } = await visitor();
    const typing = () => backend.frames.filter((f) => f.t === 'typing');
    burst(c);
    await eventually(() => typing().length >= 2);
    // The interval passes with the visitor no longer typing: nothing more goes.
    await sleep(INTERVAL * 2);
    expect(typing()).toEqual([
      { t: 'typing', conversationId, on: true, ts: expect.any(Number) },
      { t: 'typing', conversationId, on: false, ts: expect.any(Number) },
    ]);
    // Typing again after the interval goes at once; a socket that closes while typing says off.
    c.send({ t: 'typing', on: true });
    await eventually(() => typing().length === 3);
    c.close();
    await eventually(() => typing().length === 4);
    expect(typing().map((f) => f.t === 'typing' && f.on)).toEqual([true, false, true, false]);
  });

  test('an on within the interval after an off goes when the interval ends, if the visitor is still typing', async () => {
    const { relay, visitor } = await setup();
    const backend = await backendSocket(relay.base);
    const { c } = await visitor();
    const typing = () => backend.frames.flatMap((f) => (f.t === 'typing' ? [f.on] : []));
    c.send({ t: 'typing', on: true });
    c.send({ t: 'typing', on: false });
    c.send({ t: 'typing', on: true });
    await eventually(() => typing().length === 2);
    expect(typing()).toEqual([true, false]);
    await eventually(() => typing().length === 3, INTERVAL * 5);
    expect(typing()).toEqual([true, false, true]);
  });

  test('a read mark reaches the backend socket once per raise, never past what the socket was sent', async () => {
    const { relay, visitor } = await setup();
    const backend = await backendSocket(relay.base);
    const { c, conversationId } = await visitor();
    expect((await relay.api('POST', `/v1/conversations/${conversationId}/messages`, { id: 'bot-1', body: { type: 'text', text: 'hello' } })).status).toBe(201);
    await c.take((f) => f.t === 'msg' && f.id === 'bot-1');
    c.send({ t: 'read', seq: 2 });
    c.send({ t: 'read', seq: 2 });
    c.send({ t: 'read', seq: 1 });
    c.send({ t: 'read', seq: 999 });
    c.send({ t: 'ping' });
    await c.take('pong');
    await eventually(() => backend.frames.some((f) => f.t === 'read'));
    await sleep(100);
    expect(backend.frames.filter((f) => f.t === 'read')).toEqual([{ t: 'read', conversationId, seq: 2, ts: expect.any(Number) }]);
    const listed = (await relay.api('GET', '/v1/conversations')).json.items as Array<{ id: string; readSeq: number }>;
    expect(listed.find((i) => i.id === conversationId)!.readSeq).toBe(2);
  });

  test('go as webhooks only for a site that sets activityWebhooks: 100 typing frames make two visitor.typing webhooks, and events carry readSeq', async () => {
    const { backend, relay, visitor } = await setup({ activityWebhooks: true });
    const { c, conversationId, welcome } = await visitor();
    await backend.waitFor(2);
    burst(c);
    await backend.waitFor((r) => r.filter((h) => h.json.type === 'visitor.typing').length >= 2);
    expect((await relay.api('POST', `/v1/conversations/${conversationId}/messages`, { id: 'bot-1', body: { type: 'text', text: 'hello' } })).status).toBe(201);
    await c.take((f) => f.t === 'msg' && f.id === 'bot-1');
    c.send({ t: 'read', seq: 2 });
    await backend.waitFor((r) => r.some((h) => h.json.type === 'visitor.read'));
    c.send({ t: 'send', id: 'hello-2', body: { type: 'text', text: 'thanks' } });
    await c.take((f) => f.t === 'ack' && f.id === 'hello-2');
    await backend.waitFor((r) => r.some((h) => h.json.type === 'message.created' && h.json.data.message.id === 'hello-2'));
    await sleep(INTERVAL * 2);
    const hooks = backend.received.map((h) => h.json);
    expect(hooks.filter((h) => h.type === 'visitor.typing').map((h) => h.data)).toEqual([{ on: true }, { on: false }]);
    expect(hooks.find((h) => h.type === 'visitor.read')).toMatchObject({ conversationId, visitor: { id: welcome.visitorId, readSeq: 2 }, data: { seq: 2 } });
    expect(hooks.filter((h) => h.type === 'message.created').map((h) => h.visitor.readSeq)).toEqual([0, 2]);
    // Signed like every webhook, each with its own id.
    const ids = backend.received.map((h) => h.headers['webhook-id']);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('go nowhere without a backend socket on a site that did not opt in', async () => {
    const { backend, visitor } = await setup();
    const { c } = await visitor();
    burst(c);
    c.send({ t: 'read', seq: 1 });
    c.send({ t: 'send', id: 'hello-2', body: { type: 'text', text: 'thanks' } });
    await c.take((f) => f.t === 'ack' && f.id === 'hello-2');
    await backend.waitFor(3);
    await sleep(INTERVAL);
    expect(backend.received.map((h) => h.json.type)).toEqual(['conversation.started', 'message.created', 'message.created']);
  });

  test("typing frames spend none of the socket's rate-limit tokens within their own bucket; a typing flood is still cut", async () => {
    const { visitor } = await setup({}, { rateLimit: { perSecond: 0.001, burst: 6 }, rateLimitStrikes: 3, typingRateLimit: { perSecond: 0.001, burst: 10 } });
    // hello and the first send took two tokens: four are left.
    const { c } = await visitor();
    for (let i = 0; i < 10; i++) c.send({ t: 'typing', on: i % 2 === 0 });
    for (let i = 0; i < 4; i++) c.send({ t: 'send', id: `s${i}`, body: { type: 'text', text: `m${i}` } });
    for (let i = 0; i < 4; i++) await c.take((f) => f.t === 'ack' && f.id === `s${i}`);
    expect(c.frames.filter((f) => f.t === 'error')).toEqual([]);
    // Past its bucket, typing spends the frame tokens: a flood gets a warning, then the close.
    for (let i = 0; i < 50; i++) c.send({ t: 'typing', on: i % 2 === 0 });
    expect(await c.take('error')).toMatchObject({ code: 'RATE_LIMITED' });
    expect((await c.waitClosed()).code).toBe(CLOSE.RATE_LIMITED);
  });
});

describe('with several relay instances', () => {
  test("reach the site's backend socket held by another instance, once", async () => {
    const sink = await startBackend();
    cleanups.push(sink.close);
    const engine = await memoryEngine();
    const options = { engine, limits: { typingIntervalMs: INTERVAL } };
    const a = await startRelay(config(sink.url, {}), options);
    cleanups.push(a.close);
    const b = await startRelay(config(sink.url, {}), options);
    cleanups.push(b.close);
    const backend = await backendSocket(b.base);
    const c = await TestClient.open(a.wsUrl);
    cleanups.push(() => c.close());
    const { conversationId } = await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    await c.take('ack');
    c.send({ t: 'typing', on: true });
    c.send({ t: 'read', seq: 1 });
    c.send({ t: 'typing', on: false });
    await eventually(() => backend.frames.filter((f) => f.t === 'typing' || f.t === 'read').length === 3);
    await sleep(100);
    expect(backend.frames.filter((f) => f.t === 'typing' || f.t === 'read').map((f) => ({ ...f, ts: 0 }))).toEqual([
      { t: 'typing', conversationId, on: true, ts: 0 },
      { t: 'read', conversationId, seq: 1, ts: 0 },
      { t: 'typing', conversationId, on: false, ts: 0 },
    ]);
    // The webhook sink got the queued events only.
    expect(sink.received.map((h) => h.json.type)).not.toContain('visitor.typing');
  });
});

describe("the agent's read mark", () => {
  test('a read event the backend posts reaches the visitor as a transient event', async () => {
    const { relay, visitor } = await setup();
    const { c, conversationId } = await visitor();
    const posted = await relay.api('POST', `/v1/conversations/${conversationId}/events`, { event: { type: 'read', seq: 1, from: { role: 'agent', name: 'Mia' } } });
    expect(posted.status).toBe(200);
    const frame = await c.take('event');
    expect(frame).toMatchObject({ event: { type: 'read', seq: 1, from: { role: 'agent' } } });
    expect(frame.seq).toBeUndefined();
  });

  test('a visitor who was away when the agent read gets the mark after the replay on reconnecting; it never goes down', async () => {
    const { relay, visitor } = await setup();
    const { c, conversationId, welcome } = await visitor();
    c.send({ t: 'send', id: 'hello-2', body: { type: 'text', text: 'still there?' } });
    await c.take('ack');
    c.close(); // the visitor goes to another page
    await c.waitClosed();
    const read = (seq: number, role = 'agent') => relay.api('POST', `/v1/conversations/${conversationId}/events`, { event: { type: 'read', seq, from: { role } } });
    expect((await read(2)).status).toBe(200);
    expect((await read(1)).status).toBe(200); // an older mark arriving late
    const back = await TestClient.open(relay.wsUrl);
    cleanups.push(() => back.close());
    await back.hello({ token: welcome.token, lastSeq: 0 });
    // The replay first (the two messages), then the mark.
    expect((await back.take('msg')).id).toBe('hello-1');
    expect((await back.take('msg')).id).toBe('hello-2');
    const mark = await back.take('event');
    expect(mark).toMatchObject({ t: 'event', event: { type: 'read', seq: 2 } });
    expect(mark.seq).toBeUndefined();
  });

  test('a mark posted while the visitor is connecting, before its socket joined the fan-out, still reaches it', async () => {
    const engine = await memoryEngine();
    const { relay, visitor } = await setup({}, {}, engine);
    const { c, welcome } = await visitor();
    c.close();
    await c.waitClosed();
    // The agent reads while the returning visitor's hello is being handled: after the handshake
    // read the conversation (the page context is merged next), before the socket joins.
    const merge = engine.mergeContext.bind(engine);
    let posted = 0;
    engine.mergeContext = async (...args) => {
      if (posted++ === 0) {
        const r = await relay.api('POST', `/v1/conversations/${welcome.conversationId}/events`, { event: { type: 'read', seq: 1, from: { role: 'agent' } } });
        expect(r.status).toBe(200);
      }
      return merge(...args);
    };
    const back = await TestClient.open(relay.wsUrl);
    cleanups.push(() => back.close());
    await back.hello({ token: welcome.token, lastSeq: 1, page: { url: 'https://shop.example/cart', title: 'Cart' } });
    expect(posted).toBe(1);
    expect(await back.take('event')).toMatchObject({ t: 'event', event: { type: 'read', seq: 1 } });
  });

  test('a conversation nobody on the site side has read gets no mark on connecting', async () => {
    const { relay, visitor } = await setup();
    const { welcome } = await visitor();
    const back = await TestClient.open(relay.wsUrl);
    cleanups.push(() => back.close());
    await back.hello({ token: welcome.token, lastSeq: 1 });
    back.send({ t: 'ping', ts: 1 });
    await back.take('pong');
    expect(back.frames.filter((f) => f.t === 'event')).toEqual([]);
  });
});
