import WebSocket from 'ws';
import { afterEach, describe, expect, test } from 'vitest';
import { connectRelay, type RelayConnection, type WebhookEvent } from '@parley/backend';
import type { RelayConfigInput } from './config.js';
import { API_SECRET, TestClient, eventually, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';

// `connectRelay` from @parley/backend against a real relay on port 0.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function onlyMode(webhookUrl: string): RelayConfigInput {
  const base = testConfig(webhookUrl);
  return { ...base, sites: base.sites!.map((s, i) => (i === 0 ? { ...s, backendSocket: 'only' as const } : s)) };
}

async function setup() {
  const sink = await startBackend();
  cleanups.push(sink.close);
  const relay = await startRelay(onlyMode(sink.url), { backendSocket: { waitMs: 20 } });
  cleanups.push(relay.close);
  return { sink, relay };
}

function connect(options: Omit<Parameters<typeof connectRelay>[0], 'apiSecret'> & { apiSecret?: string }): RelayConnection & { sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  const conn = connectRelay({
    apiSecret: API_SECRET,
    minDelayMs: 10,
    maxDelayMs: 50,
    createSocket: (url, headers) => {
      const ws = new WebSocket(url, { headers });
      sockets.push(ws);
      return ws;
    },
    ...options,
  });
  cleanups.push(() => conn.close());
  return Object.assign(conn, { sockets });
}

async function visitor(wsUrl: string) {
  const c = await TestClient.open(wsUrl);
  cleanups.push(() => c.close());
  const welcome = await c.hello();
  return { client: c, conversationId: welcome.conversationId };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const label = (e: WebhookEvent) => (messageOf(e) ? `${e.type}:${messageOf(e)!.id}` : e.type);

describe('connectRelay against a relay', () => {
  test('receives events and acks each only after onEvent resolves', async () => {
    const { relay, sink } = await setup();
    const seen: string[] = [];
    const gate = deferred();
    const conn = connect({
      url: relay.base,
      onEvent: async (event) => {
        seen.push(label(event));
        if (event.type === 'conversation.started') await gate.promise;
      },
    });
    const connected = new Promise((r) => conn.on('connected', r));
    expect(await connected).toEqual({ siteKey: 'pk_test', mode: 'only' });
    const v = await visitor(relay.wsUrl);
    v.client.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    await eventually(() => seen.length === 1);
    // Unacked, conversation.started holds back the conversation's next event.
    await new Promise((r) => setTimeout(r, 150));
    expect(seen).toEqual(['conversation.started']);
    gate.resolve();
    await eventually(() => seen.length === 2);
    expect(seen).toEqual(['conversation.started', 'message.created:m1']);
    await eventually(async () => (await relay.app.parley.engine.nextWebhookAt()) === null);
    expect(sink.received).toHaveLength(0);
  });

  test("onEvent's reply is appended and shown to the visitor; send and postEvent answer with seq and duplicate", async () => {
    const { relay } = await setup();
    const conn = connect({
      url: relay.base,
      onEvent: (event) => (event.type === 'message.created' ? { messages: [{ body: { type: 'text', text: 'Hi, how can I help?' } }] } : undefined),
    });
    const v = await visitor(relay.wsUrl);
    v.client.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hello' } });
    const reply = await v.client.take((f) => f.t === 'msg' && f.from.role === 'bot');
    expect(reply).toMatchObject({ seq: 2, body: { text: 'Hi, how can I help?' } });

    const sent = await conn.send(v.conversationId, { id: 'bot-2', body: { type: 'text', text: 'Anything else?' } });
    expect(sent).toEqual({ id: 'bot-2', seq: 3, duplicate: false });
    expect(await conn.send(v.conversationId, { id: 'bot-2', body: { type: 'text', text: 'Anything else?' } })).toEqual({ id: 'bot-2', seq: 3, duplicate: true });
    expect(await conn.postEvent(v.conversationId, { type: 'typing', on: true })).toMatchObject({ duplicate: false });
    expect(await conn.postEvent(v.conversationId, { type: 'closed' }, { id: 'close-1' })).toEqual({ id: 'close-1', seq: 4, duplicate: false });
    await expect(conn.send('no-such-conversation', { body: { type: 'text', text: 'x' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await v.client.take((f) => f.t === 'msg' && f.id === 'bot-2');
  });

  test('reconnects after the relay closes the socket; writes made meanwhile are queued and go out', async () => {
    const { relay } = await setup();
    const seen: string[] = [];
    const conn = connect({ url: relay.base, onEvent: (e) => void seen.push(label(e)) });
    const states: string[] = [];
    conn.on('state', ({ to }) => states.push(to));
    const disconnects: Array<{ code: number; willReconnect: boolean }> = [];
    conn.on('disconnected', (d) => disconnects.push(d));
    await eventually(() => conn.state === 'open');
    const v = await visitor(relay.wsUrl);
    v.client.send({ t: 'send', id: 'm0', body: { type: 'text', text: 'hi' } });
    await eventually(() => seen.includes('message.created:m0'));

    // An oversized frame makes the relay close the socket (4006, a "reconnect" code).
    conn.sockets[0]!.send('x'.repeat(70_000));
    await eventually(() => disconnects.length === 1);
    expect(disconnects[0]).toMatchObject({ code: 4006, willReconnect: true });
    const queued = conn.send(v.conversationId, { id: 'while-away', body: { type: 'text', text: 'queued' } }).catch((err: unknown) => err);
    await eventually(() => conn.state === 'open');
    expect(conn.sockets).toHaveLength(2);
    expect(await queued).toMatchObject({ id: 'while-away', duplicate: false });

    v.client.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'after the reconnect' } });
    await eventually(() => seen.includes('message.created:m1'));
    expect(states).toEqual(['open', 'waiting', 'connecting', 'open']);
  });

  test('stops on UNAUTHORIZED: reports it, rejects writes and does not reconnect', async () => {
    const { relay } = await setup();
    const conn = connect({ url: relay.base, apiSecret: 'wrong-secret-0123456789', onEvent: () => {} });
    const errors: Array<{ code: string }> = [];
    conn.on('error', (e) => errors.push(e));
    const write = conn.send('c1', { body: { type: 'text', text: 'x' } }).catch((err: unknown) => err);
    await eventually(() => conn.state === 'closed');
    expect(errors[0]).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await write).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    await new Promise((r) => setTimeout(r, 200));
    expect(conn.sockets).toHaveLength(1);
  });

  test('an event whose onEvent throws is not acked and comes again', async () => {
    let calls = 0;
    const errors: string[] = [];
    const relay = await startRelay(onlyMode('http://127.0.0.1:9/hook'), { webhooks: { timeoutMs: 100, retryScheduleMs: [10, 10] } });
    cleanups.push(relay.close);
    const conn = connect({
      url: relay.base,
      onEvent: (e) => {
        if (e.type === 'conversation.started' && calls++ === 0) throw new Error('database down');
      },
    });
    conn.on('error', (e) => errors.push(e.code));
    const v = await visitor(relay.wsUrl);
    v.client.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    await v.client.take('ack');
    await eventually(async () => (await relay.app.parley.engine.nextWebhookAt()) === null);
    expect(calls).toBe(2);
    expect(errors).toEqual(['HANDLER_FAILED']);
  });

  test("emits the visitor's typing and read marks as typing and read events, with readSeq on the events it handles", async () => {
    const { relay } = await setup();
    const typing: Array<{ conversationId: string; on: boolean }> = [];
    const reads: Array<{ conversationId: string; seq: number }> = [];
    const handled: WebhookEvent[] = [];
    const conn = connect({ url: relay.base, onEvent: (event) => void handled.push(event) });
    conn.on('typing', ({ conversationId, on }) => typing.push({ conversationId, on }));
    conn.on('read', ({ conversationId, seq }) => reads.push({ conversationId, seq }));
    await eventually(() => conn.state === 'open');
    const { client, conversationId } = await visitor(relay.wsUrl);
    client.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    await client.take('ack');
    await conn.send(conversationId, { id: 'bot-1', body: { type: 'text', text: 'hello' } });
    await client.take((f) => f.t === 'msg' && f.id === 'bot-1');
    client.send({ t: 'typing', on: true });
    client.send({ t: 'read', seq: 2 });
    client.send({ t: 'typing', on: false });
    client.send({ t: 'send', id: 'm2', body: { type: 'text', text: 'thanks' } });
    await eventually(() => handled.length === 3 && typing.length === 2 && reads.length === 1);
    expect(typing).toEqual([
      { conversationId, on: true },
      { conversationId, on: false },
    ]);
    expect(reads).toEqual([{ conversationId, seq: 2 }]);
    expect(handled.map((e) => [e.type, e.visitor.readSeq])).toEqual([
      ['conversation.started', 0],
      ['message.created', 0],
      ['message.created', 2],
    ]);
  });
});
