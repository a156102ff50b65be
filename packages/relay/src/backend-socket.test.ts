import WebSocket from 'ws';
import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE, decodeBackendServerFrame, type BackendServerFrame, type OutgoingMessage, type WebhookEvent } from '@parley/protocol';
import { API_SECRET, TestClient, eventually, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';
import type { RelayConfigInput } from './config.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Mode = 'off' | 'fallback' | 'only';

/** The test config with `pk_test` in the given backend socket mode. */
function config(webhookUrl: string, mode: Mode): RelayConfigInput {
  const base = testConfig(webhookUrl);
  return { ...base, sites: base.sites!.map((s, i) => (i === 0 ? { ...s, backendSocket: mode } : s)) };
}

type Answer = (event: WebhookEvent) => { messages?: OutgoingMessage[] } | 'no-ack';

/** A merchant backend holding a raw backend socket; records every frame and acks events per `answer`. */
class BackendSocketClient {
  readonly frames: BackendServerFrame[] = [];
  readonly ws: WebSocket;
  closed: { code: number; reason: string } | undefined;

  constructor(url: string, secret: string | null, private answer: Answer = () => ({})) {
    this.ws = new WebSocket(url, { headers: secret === null ? {} : { authorization: `Bearer ${secret}` } });
    this.ws.on('message', (data) => {
      const r = decodeBackendServerFrame(data.toString());
      if (!r.ok) throw new Error(`relay sent an invalid backend frame: ${r.message}`);
      this.frames.push(r.frame);
      if (r.frame.t === 'event') {
        const reply = this.answer(r.frame.event);
        if (reply !== 'no-ack') this.send({ t: 'ack', id: r.frame.event.id, ...reply });
      }
    });
    this.ws.on('error', () => {});
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static async open(relayBase: string, answer?: Answer, secret: string = API_SECRET): Promise<BackendSocketClient> {
    const c = new BackendSocketClient(socketUrl(relayBase), secret, answer);
    await eventually(() => c.frames.some((f) => f.t === 'ready'));
    return c;
  }

  /** Events received, in arrival order. */
  events(): WebhookEvent[] {
    return this.frames.flatMap((f) => (f.t === 'event' ? [f.event] : []));
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The answer (ack or error) to the request `id`. */
  answerTo(id: string): Promise<BackendServerFrame> {
    return eventually(() => this.frames.find((f) => (f.t === 'ack' || f.t === 'error') && f.id === id)) as Promise<BackendServerFrame>;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((r) => {
      this.ws.once('close', () => r());
      this.ws.close();
    });
  }
}

const socketUrl = (base: string) => `${base.replace(/^http/, 'ws')}/v1/backend`;

/** The upgrade refusal (status and JSON body) for these headers. */
function refusal(base: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(socketUrl(base), { headers });
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      });
    });
  });
}

/** A visitor with a started conversation. */
async function visitor(wsUrl: string) {
  const c = await TestClient.open(wsUrl);
  cleanups.push(() => c.close());
  const welcome = await c.hello();
  let n = 0;
  return {
    client: c,
    conversationId: welcome.conversationId,
    async say(text: string, id = `v${++n}`) {
      c.send({ t: 'send', id, body: { type: 'text', text } });
      await c.take((f) => f.t === 'ack' && f.id === id);
      return id;
    },
  };
}

async function setup(mode: Mode, options: Parameters<typeof startRelay>[1] = {}) {
  const sink = await startBackend();
  cleanups.push(sink.close);
  const relay = await startRelay(config(sink.url, mode), options);
  cleanups.push(relay.close);
  const backend = async (answer?: Answer, secret?: string) => {
    const b = await BackendSocketClient.open(relay.base, answer, secret);
    cleanups.push(() => b.close());
    return b;
  };
  return { sink, relay, backend };
}

const typesOf = (events: WebhookEvent[]) => events.map((e) => (messageOf(e) ? `${e.type}:${messageOf(e)!.id}` : e.type));
const queueEmpty = (relay: { app: { parley: { engine: { nextWebhookAt(): Promise<number | null> } } } }) =>
  eventually(async () => (await relay.app.parley.engine.nextWebhookAt()) === null);

describe('backend socket: connecting', () => {
  test('a socket without a secret, or with a wrong one, is refused before the upgrade with 401 UNAUTHORIZED', async () => {
    const { relay } = await setup('fallback');
    const none = await refusal(relay.base, {});
    expect(none).toEqual({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: expect.any(String) } } });
    const wrong = await refusal(relay.base, { authorization: 'Bearer not-the-secret-0123456789' });
    expect(wrong).toEqual({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: expect.any(String) } } });
  });

  test('a site in "off" mode refuses the socket with 403 BACKEND_SOCKET_OFF and keeps sending webhooks', async () => {
    const { relay, sink } = await setup('off');
    expect(await refusal(relay.base, { authorization: `Bearer ${API_SECRET}` })).toMatchObject({ status: 403, body: { error: { code: 'BACKEND_SOCKET_OFF' } } });
    const v = await visitor(relay.wsUrl);
    await v.say('hi');
    await sink.waitFor(2);
  });

  test('a relay shutting down closes backend sockets with GOING_AWAY', async () => {
    const { relay, backend } = await setup('fallback');
    const b = await backend();
    await relay.close();
    await eventually(() => b.closed);
    expect(b.closed).toEqual({ code: CLOSE.GOING_AWAY, reason: 'NOT_READY' });
  });

  test('an accepted socket gets ready with the site key and mode', async () => {
    const { backend } = await setup('only');
    const b = await backend();
    expect(b.frames[0]).toEqual({ t: 'ready', v: 1, siteKey: 'pk_test', mode: 'only' });
  });
});

describe('backend socket: events', () => {
  test('events arrive over the socket in order, each acked once, and no webhook is sent while it is connected', async () => {
    const { relay, sink, backend } = await setup('fallback');
    const b = await backend();
    const v = await visitor(relay.wsUrl);
    await v.say('one');
    await v.say('two');
    await eventually(() => b.events().length === 3);
    expect(typesOf(b.events())).toEqual(['conversation.started', 'message.created:v1', 'message.created:v2']);
    expect(b.events().every((e) => e.conversationId === v.conversationId && e.siteKey === 'pk_test')).toBe(true);
    await queueEmpty(relay);
    await new Promise((r) => setTimeout(r, 150));
    expect(b.events()).toHaveLength(3);
    expect(sink.received).toHaveLength(0);
  });

  test('events unacked when the socket closes come again, in order, on the next socket', async () => {
    const { relay, backend } = await setup('only', { backendSocket: { waitMs: 20 } });
    const first = await backend(() => 'no-ack');
    const v = await visitor(relay.wsUrl);
    await v.say('one');
    await v.say('two');
    // One event of a conversation is in flight at a time: the first waits for its ack.
    await eventually(() => first.events().length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(typesOf(first.events())).toEqual(['conversation.started']);
    await first.close();

    const second = await backend();
    await eventually(() => second.events().length === 3);
    expect(typesOf(second.events())).toEqual(['conversation.started', 'message.created:v1', 'message.created:v2']);
    expect(second.events()[0]!.id).toBe(first.events()[0]!.id);
    await queueEmpty(relay);
  });

  test('two sockets share the conversations; each conversation stays on one socket and its events keep seq order', async () => {
    const { relay, backend } = await setup('only');
    const a = await backend();
    const b = await backend();
    const visitors = await Promise.all(Array.from({ length: 16 }, () => visitor(relay.wsUrl)));
    for (let round = 1; round <= 4; round++) await Promise.all(visitors.map((v) => v.say(`round ${round}`)));
    await eventually(() => a.events().length + b.events().length === 16 * 5, 10_000);

    const socketsOf = new Map<string, Set<string>>();
    for (const [name, s] of [['a', a], ['b', b]] as const) {
      for (const e of s.events()) socketsOf.set(e.conversationId, (socketsOf.get(e.conversationId) ?? new Set()).add(name));
    }
    expect([...socketsOf.values()].every((set) => set.size === 1)).toBe(true);
    expect(new Set([...socketsOf.values()].map((set) => [...set][0])).size).toBe(2);
    for (const v of visitors) {
      const mine = [...a.events(), ...b.events()].filter((e) => e.conversationId === v.conversationId);
      expect(typesOf(mine)).toEqual(['conversation.started', 'message.created:v1', 'message.created:v2', 'message.created:v3', 'message.created:v4']);
      const seqs = mine.flatMap((e) => (messageOf(e) ? [messageOf(e)!.seq] : []));
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
  });

  test('the inline reply on an ack is appended at once and reaches the visitor', async () => {
    const { relay, backend } = await setup('only');
    await backend((e) =>
      e.type === 'message.created'
        ? { messages: [{ id: 'reply-1', body: { type: 'text', text: 'Hello back' } }, { from: { role: 'agent', name: 'Ann' }, body: { type: 'text', text: 'And me' } }] }
        : {},
    );
    const v = await visitor(relay.wsUrl);
    await v.say('hello?');
    const reply = await v.client.take((f) => f.t === 'msg' && f.id === 'reply-1');
    expect(reply).toMatchObject({ from: { role: 'bot' }, body: { type: 'text', text: 'Hello back' } });
    const second = await v.client.take((f) => f.t === 'msg' && f.from.role === 'agent');
    expect(second).toMatchObject({ body: { text: 'And me' } });
    expect((second as { id: string }).id).toMatch(/-1$/);
  });

  test('"only" mode sends nothing to the webhook URL: events wait, never dead-lettered, and flow when a socket connects', async () => {
    const { relay, sink, backend } = await setup('only', { webhooks: { retryScheduleMs: [10] }, backendSocket: { waitMs: 20 } });
    const v = await visitor(relay.wsUrl);
    await v.say('anyone?');
    // Far more rechecks than the one-step schedule allows.
    await new Promise((r) => setTimeout(r, 400));
    expect(sink.received).toHaveLength(0);
    expect((await relay.api('GET', '/v1/dead-letters')).json.items).toEqual([]);

    const b = await backend();
    await eventually(() => b.events().length === 2);
    expect(typesOf(b.events())).toEqual(['conversation.started', 'message.created:v1']);
    await queueEmpty(relay);
    expect(sink.received).toHaveLength(0);
  });

  test('"fallback" mode delivers by webhook once the socket is gone', async () => {
    const { relay, sink, backend } = await setup('fallback');
    const b = await backend();
    const v = await visitor(relay.wsUrl);
    await v.say('one');
    await eventually(() => b.events().length === 2);
    await queueEmpty(relay);
    await b.close();

    await v.say('two');
    const got = await sink.waitFor(1);
    expect(got.map((r) => messageOf(r.json)?.id)).toEqual(['v2']);
    expect(b.events()).toHaveLength(2);
  });

  test('socket drops do not use up the retry schedule: after three drops a one-retry schedule still has its webhook retry', async () => {
    let webhookFailures = 1;
    const sink = await startBackend(() => (webhookFailures-- > 0 ? { status: 500 } : { status: 204 }));
    cleanups.push(sink.close);
    // One retry in the schedule: three socket drops counted as attempts would bury the event.
    const relay = await startRelay(config(sink.url, 'fallback'), { webhooks: { retryScheduleMs: [10], timeoutMs: 5000 } });
    cleanups.push(relay.close);
    const v = await visitor(relay.wsUrl);
    for (let i = 0; i < 3; i++) {
      const b = await BackendSocketClient.open(relay.base, () => 'no-ack');
      if (i === 0) await v.say('hi');
      await eventually(() => b.events().length === 1);
      await b.close();
    }
    // The socket is gone: conversation.started fails once by webhook, then goes through.
    await sink.waitFor((r) => r.length >= 3);
    await queueEmpty(relay);
    expect(sink.received.map((r) => r.json.type)).toEqual(['conversation.started', 'conversation.started', 'message.created']);
    expect((await relay.api('GET', '/v1/dead-letters')).json.items).toEqual([]);
  });

  test('an event the socket never acks is retried on the schedule, then dead-lettered with BACKEND_SOCKET_TIMEOUT', async () => {
    const { relay, sink, backend } = await setup('only', { webhooks: { retryScheduleMs: [10], timeoutMs: 100 } });
    const b = await backend(() => 'no-ack');
    const v = await visitor(relay.wsUrl);
    await v.say('hi');
    const dead = await eventually(async () => {
      const items = (await relay.api('GET', '/v1/dead-letters')).json.items;
      return items.length ? items : null;
    });
    expect(dead[0]).toMatchObject({ event: { type: 'conversation.started' }, attempts: 2, lastError: { code: 'BACKEND_SOCKET_TIMEOUT' } });
    expect(b.events().filter((e) => e.type === 'conversation.started')).toHaveLength(2);
    expect(sink.received).toHaveLength(0);
  });
});

describe('backend socket: sending', () => {
  test('a message sent twice with one id is appended once; the second answer is a duplicate with the same seq', async () => {
    const { relay, backend } = await setup('only');
    const b = await backend();
    const v = await visitor(relay.wsUrl);
    await v.say('hi');
    const frame = { t: 'send', id: 'bot-1', conversationId: v.conversationId, body: { type: 'text', text: 'Hello!' } };
    b.send(frame);
    const first = await b.answerTo('bot-1');
    b.frames.splice(b.frames.indexOf(first), 1);
    b.send(frame);
    const second = await b.answerTo('bot-1');
    expect(first).toEqual({ t: 'ack', id: 'bot-1', seq: 2, duplicate: false });
    expect(second).toEqual({ t: 'ack', id: 'bot-1', seq: 2, duplicate: true });
    const history = await relay.api('GET', `/v1/conversations/${v.conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string }) => e.id)).toEqual(['v1', 'bot-1']);
    expect(v.client.msgs().filter((m) => m.id === 'bot-1')).toHaveLength(1);
  });

  test('events post with their seq; transient ones without; a reused id with another body is ID_CONFLICT', async () => {
    const { relay, backend } = await setup('only');
    const b = await backend();
    const v = await visitor(relay.wsUrl);
    await v.say('hi');
    b.send({ t: 'post', id: 'typing-1', conversationId: v.conversationId, event: { type: 'typing', on: true } });
    expect(await b.answerTo('typing-1')).toEqual({ t: 'ack', id: 'typing-1', duplicate: false });
    b.send({ t: 'post', id: 'joined-1', conversationId: v.conversationId, event: { type: 'agent_joined', agent: { role: 'agent', name: 'Ann' } } });
    expect(await b.answerTo('joined-1')).toEqual({ t: 'ack', id: 'joined-1', seq: 2, duplicate: false });
    b.send({ t: 'send', id: 'joined-1', conversationId: v.conversationId, body: { type: 'text', text: 'x' } });
    expect(await eventually(() => b.frames.find((f) => f.t === 'error' && f.id === 'joined-1'))).toMatchObject({ code: 'ID_CONFLICT' });
  });

  test("another site's conversation answers NOT_FOUND, and writes to one conversation keep their order", async () => {
    const { relay, backend } = await setup('only');
    const b = await backend();
    const v = await visitor(relay.wsUrl);
    await v.say('hi');
    const other = await TestClient.open(relay.wsUrl);
    cleanups.push(() => other.close());
    const foreign = await other.hello({ siteKey: 'pk_other' });
    b.send({ t: 'send', id: 'nope', conversationId: foreign.conversationId, body: { type: 'text', text: 'x' } });
    expect(await b.answerTo('nope')).toMatchObject({ t: 'error', code: 'NOT_FOUND', id: 'nope' });

    for (let i = 1; i <= 20; i++) b.send({ t: 'send', id: `burst-${i}`, conversationId: v.conversationId, body: { type: 'text', text: `#${i}` } });
    await b.answerTo('burst-20');
    const history = await relay.api('GET', `/v1/conversations/${v.conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string }) => e.id).slice(1)).toEqual(Array.from({ length: 20 }, (_, i) => `burst-${i + 1}`));
  });

  test('bad frames get error frames with codes; an oversized one closes the socket with FRAME_TOO_LARGE', async () => {
    const { backend } = await setup('only');
    const b = await backend();
    b.send('{not json');
    await eventually(() => b.frames.some((f) => f.t === 'error' && f.code === 'BAD_JSON'));
    b.send({ t: 'send', id: 'm-bad', conversationId: 'c1', body: { type: 'nope' } });
    expect(await b.answerTo('m-bad')).toMatchObject({ t: 'error', code: 'BAD_FRAME' });
    b.send({ t: 'send', id: 'big', conversationId: 'c1', body: { type: 'text', text: 'x'.repeat(70_000) } });
    await eventually(() => b.closed);
    expect(b.frames.some((f) => f.t === 'error' && f.code === 'TOO_LARGE')).toBe(true);
    expect(b.closed!.code).toBe(CLOSE.FRAME_TOO_LARGE);
  });
});
