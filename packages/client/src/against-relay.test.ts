// The client against a real relay (buildApp on port 0) and a recording merchant backend,
// over real sockets (`ws`). A shared in-memory storage stands in for tabs and reloads.
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { hmacSha256Hex } from '@parley/protocol';
import { buildApp, createMemoryEngine, type Engine, type LimitsConfig } from '@parley/relay';
import { createClient } from './client.js';
import type { ChatMessage, ClientOptions, ParleyClient, SocketLike } from './types.js';
import { memoryStorage } from '../test/memory-storage.js';
import { startRecordingServer } from '../../../test/support/recording-server.js';

const ORIGIN = 'https://shop.example';
const API_SECRET = 'api_secret_client_tests_0123';
const IDENTITY_SECRET = 'identity_secret_client_tests';
const SITE = 'pk_client';

type Hook = { type: string; conversationId: string; visitor: any; data: any };

/** A merchant backend that records every webhook and answers text messages with an inline bot reply. */
async function startBackend() {
  const server = await startRecordingServer<Hook>({
    record: ({ raw }) => JSON.parse(raw) as Hook,
    answer: (hook) => {
      const body = hook.type === 'message.created' && hook.data.message.body.type === 'text' ? hook.data.message.body.text : undefined;
      return body === undefined ? { status: 204 } : { status: 200, body: { messages: [{ body: { type: 'text', text: `echo: ${body}` } }] } };
    },
  });
  const hooks = server.received;
  const texts = () => hooks.filter((h) => h.type === 'message.created').map((h) => h.data.message.body.text as string);
  return { url: `${server.base}/hooks`, hooks, texts, close: server.close };
}

function config(webhookUrl: string) {
  return {
    tokenSecret: 'token-secret-for-client-tests-0123456789',
    engine: { type: 'memory' as const },
    logLevel: 'silent' as const,
    sites: [
      {
        siteKey: SITE,
        name: 'Client Test Shop',
        allowedOrigins: [ORIGIN],
        webhookUrl,
        webhookSecret: 'whsec_' + Buffer.from('client-test-webhook-secret-32by!').toString('base64'),
        apiSecret: API_SECRET,
        identitySecret: IDENTITY_SECRET,
        greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
      },
    ],
  };
}

/** A relay listening on 127.0.0.1 (port 0 unless given), optionally over an engine that outlives it. */
async function startRelay(webhookUrl: string, port = 0, engine?: Engine, limits?: Partial<LimitsConfig>) {
  const app = buildApp(config(webhookUrl), { logger: false, webhooks: { pollMs: 20, retryScheduleMs: [50, 50, 50] }, closeGraceMs: 100, ...(engine && { engine }), ...(limits && { limits }) });
  await app.listen({ port, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    base,
    port: (app.server.address() as AddressInfo).port,
    async api(method: string, path: string, body?: unknown) {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${API_SECRET}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
    },
    close: () => app.close(),
  };
}


const open: Array<{ close(): unknown } | ParleyClient> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await ('shutdown' in x ? x.disconnect() : x.close());
});

function client(base: string, options: Partial<ClientOptions> = {}) {
  let sockets = 0;
  let last: WebSocket | undefined;
  const errors: string[] = [];
  const c = createClient({
    siteKey: SITE,
    relayUrl: base,
    createSocket: (url) => {
      sockets++;
      last = new WebSocket(url, { origin: ORIGIN });
      return last as unknown as SocketLike;
    },
    storage: null,
    backoff: { minMs: 20, maxMs: 100 },
    page: () => ({ url: 'https://shop.example/products/trail-runner', title: 'Trail runner' }),
    ...options,
  });
  c.on('error', (e) => errors.push(e.code));
  open.push(c);
  return Object.assign(c, { errors, sockets: () => sockets, socket: () => last! });
}

const until = (fn: () => void, timeout = 8000) => vi.waitFor(fn, { timeout, interval: 10 });
const texts = (c: ParleyClient) =>
  c.getSnapshot().timeline.flatMap((i) => (i.kind === 'msg' && i.body.type === 'text' ? [i.body.text] : []));
const ids = (c: ParleyClient) => c.getSnapshot().timeline.map((i) => `${i.seq}:${i.id}`);
const opened = (c: ParleyClient) => until(() => expect(c.getSnapshot().state).toBe('open'));
const status = (c: ParleyClient, m: ChatMessage) => c.getSnapshot().timeline.find((i) => i.id === m.id) as ChatMessage | undefined;

async function setup() {
  const backend = await startBackend();
  const relay = await startRelay(backend.url);
  open.push(backend, relay);
  return { backend, relay };
}

describe('against a real relay', () => {
  test('says hello, shows the greeting, and gets the bot reply to a message', async () => {
    const { backend, relay } = await setup();
    const c = client(relay.base);
    c.connect();
    await opened(c);
    expect(c.getSnapshot()).toMatchObject({ siteName: 'Client Test Shop', greeting: { text: 'Hi! How can we help?' }, online: true });
    const m = c.send('hello');
    expect(status(c, m)?.status).toBe('sending');
    await until(() => expect(texts(c)).toEqual(['hello', 'echo: hello']));
    expect(status(c, m)).toMatchObject({ status: 'sent', seq: 1 });
    expect(backend.texts()).toEqual(['hello']);
    expect(c.getSnapshot().unread).toBe(1);
  });

  test('messages the relay drops while rate limiting are sent again and delivered once each', async () => {
    const backend = await startBackend();
    const relay = await startRelay(backend.url, 0, undefined, { rateLimit: { perSecond: 4, burst: 3 }, rateLimitStrikes: 50 });
    open.push(backend, relay);
    const c = client(relay.base);
    c.connect();
    await opened(c);
    const sent = ['one', 'two', 'three', 'four', 'five', 'six'].map((t) => c.send(t));
    await until(() => expect(c.errors).toContain('RATE_LIMITED'));
    await until(() => expect(sent.map((m) => status(c, m)?.status)).toEqual(Array(6).fill('sent')), 10_000);
    // Webhooks follow the acks: wait for them, then check they came once each, in seq order.
    const bySeq = sent.map((m) => status(c, m)!).sort((a, b) => a.seq! - b.seq!).map((m) => (m.body as { text: string }).text);
    await until(() => expect(backend.texts()).toHaveLength(6), 10_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(backend.texts()).toEqual(bySeq);
    expect([...bySeq].sort()).toEqual(['five', 'four', 'one', 'six', 'three', 'two']);
    expect(c.getSnapshot().state).toBe('open');
    expect(c.sockets()).toBe(1);
  });

  test('a message sent while the relay is down is delivered exactly once after it comes back', async () => {
    const backend = await startBackend();
    open.push(backend);
    const engine = createMemoryEngine();
    let relay = await startRelay(backend.url, 0, engine);
    const port = relay.port;
    const c = client(relay.base);
    c.connect();
    await opened(c);
    await relay.close();
    await until(() => expect(c.getSnapshot().state).toBe('reconnecting'));
    const m = c.send('sent while offline');
    expect(status(c, m)?.status).toBe('sending');

    relay = await startRelay(backend.url, port, engine);
    open.push(relay);
    await until(() => expect(status(c, m)?.status).toBe('sent'));
    await until(() => expect(texts(c)).toEqual(['sent while offline', 'echo: sent while offline']));
    // Another drop and a later message: the first is still delivered once, never replayed twice.
    c.socket().terminate(); // the network drops
    await until(() => expect(c.getSnapshot().state).toBe('reconnecting'));
    await opened(c);
    c.send('after the blip');
    await until(() => expect(backend.texts()).toContain('after the blip'));
    expect(backend.texts()).toEqual(['sent while offline', 'after the blip']);
    await until(() => expect(texts(c)).toHaveLength(4));
    expect(texts(c)).toEqual(['sent while offline', 'echo: sent while offline', 'after the blip', 'echo: after the blip']);
    await engine.close();
  });

  test('a relay that lost the conversation (memory engine restarted) resets the timeline; new messages are not hidden', async () => {
    const backend = await startBackend();
    open.push(backend);
    let relay = await startRelay(backend.url, 0, createMemoryEngine());
    const port = relay.port;
    const c = client(relay.base, { storage: memoryStorage().storage });
    c.connect();
    await opened(c);
    for (const t of ['one', 'two', 'three']) c.send(t);
    await until(() => expect(texts(c)).toHaveLength(6));
    await relay.close();
    await until(() => expect(c.getSnapshot().state).toBe('reconnecting'));

    // Everything the relay held is gone; the client still holds lastSeq 6.
    relay = await startRelay(backend.url, port, createMemoryEngine());
    open.push(relay);
    await opened(c);
    expect(c.getSnapshot().timeline).toEqual([]);
    c.send('after the restart');
    // seq 1 and 2 of the new conversation show, though the client had seen seq 6 of the old one.
    await until(() => expect(texts(c)).toEqual(['after the restart', 'echo: after the restart']));
    expect(ids(c).map((i) => Number(i.split(':')[0]))).toEqual([1, 2]);
  });

  test('a reload (a new client over the same storage) restores history, then tops it up with no duplicates', async () => {
    const { backend, relay } = await setup();
    const { storage } = memoryStorage();
    const first = client(relay.base, { storage });
    first.connect();
    await opened(first);
    first.send('one');
    await until(() => expect(texts(first)).toEqual(['one', 'echo: one']));
    first.disconnect();
    // The backend writes while no tab is open.
    const conv = backend.hooks[0]!.conversationId;
    expect((await relay.api('POST', `/v1/conversations/${conv}/messages`, { id: 'later-1', body: { type: 'text', text: 'later' } })).status).toBe(201);

    const reloaded = client(relay.base, { storage });
    expect(ids(reloaded)).toEqual(ids(first)); // from storage, before any network
    reloaded.connect();
    await until(() => expect(texts(reloaded)).toEqual(['one', 'echo: one', 'later']));
    expect(reloaded.getSnapshot().timeline.map((i) => i.seq)).toEqual([1, 2, 3]);
    expect(new Set(ids(reloaded)).size).toBe(3);
    expect(reloaded.getSnapshot().unread).toBe(2);
  });

  test('the agent read while the visitor was on another page: the next page shows "Read"', async () => {
    const { backend, relay } = await setup();
    const { storage } = memoryStorage();
    const first = client(relay.base, { storage });
    first.connect();
    await opened(first);
    const m = first.send('is my order on its way?');
    await until(() => expect(status(first, m)?.status).toBe('sent'));
    first.disconnect(); // the visitor follows a link
    const conv = backend.hooks[0]!.conversationId;
    expect((await relay.api('POST', `/v1/conversations/${conv}/events`, { event: { type: 'read', seq: 1, from: { role: 'agent', name: 'Mia' } } })).status).toBe(200);

    const next = client(relay.base, { storage });
    expect(status(next, m)?.status).toBe('sent'); // from storage, before any network
    next.connect();
    await until(() => expect(status(next, m)?.status).toBe('read'));
  });

  test('two clients sharing storage (two tabs) share one conversation and stay in sync', async () => {
    const { backend, relay } = await setup();
    const { storage } = memoryStorage();
    const a = client(relay.base, { storage });
    a.connect();
    await opened(a);
    const b = client(relay.base, { storage });
    b.connect();
    await opened(b);
    a.send('from tab A');
    await until(() => expect(texts(b)).toEqual(['from tab A', 'echo: from tab A']));
    b.send('from tab B');
    await until(() => expect(texts(a)).toEqual(['from tab A', 'echo: from tab A', 'from tab B', 'echo: from tab B']));
    await until(() => expect(ids(b)).toEqual(ids(a)));
    expect(new Set(backend.hooks.map((h) => h.conversationId)).size).toBe(1);
    expect(a.getSnapshot().unread).toBe(2);
    expect(b.getSnapshot().unread).toBe(2);
    a.markRead();
    await until(() => expect(b.getSnapshot().unread).toBe(0));
  });

  test('relay events reach the snapshot: queue, agent, typing, rating request, closed, availability', async () => {
    const { backend, relay } = await setup();
    const c = client(relay.base);
    c.connect();
    await opened(c);
    c.requestHuman();
    await until(() => expect(backend.hooks.map((h) => h.type)).toContain('handoff.requested'));
    const conv = backend.hooks[0]!.conversationId;
    const event = (event: unknown, id?: string) => relay.api('POST', `/v1/conversations/${conv}/events`, { ...(id && { id }), event });
    await event({ type: 'queue', position: 2, etaSec: 30 }, 'q1');
    await until(() => expect(c.getSnapshot().queue).toEqual({ position: 2, etaSec: 30 }));
    await event({ type: 'agent_joined', agent: { role: 'agent', name: 'Mia' } }, 'j1');
    await until(() => expect(c.getSnapshot()).toMatchObject({ agent: { name: 'Mia' }, queue: null }));
    await event({ type: 'typing', on: true, from: { role: 'agent', name: 'Mia' } });
    await until(() => expect(c.getSnapshot().typing).toMatchObject({ name: 'Mia' }));
    await event({ type: 'rating_request', text: 'How did we do?' }, 'r1');
    await event({ type: 'closed' }, 'x1');
    await until(() => expect(c.getSnapshot()).toMatchObject({ ratingRequested: { text: 'How did we do?' }, closed: true }));
    expect((await relay.api('POST', '/v1/availability', { online: false })).status).toBe(200);
    await until(() => expect(c.getSnapshot().online).toBe(false));
    const rating = c.rate(5, 'quick!');
    await until(() => expect(status(c, rating)?.status).toBe('sent'));
    await until(() => expect(backend.hooks.map((h) => h.type)).toContain('rating.submitted'));
    expect(c.getSnapshot().ratingRequested).toBeNull();
  });

  test('restart after a close starts a new, empty conversation', async () => {
    const { backend, relay } = await setup();
    const c = client(relay.base);
    c.connect();
    await opened(c);
    c.send('first conversation');
    await until(() => expect(backend.texts()).toEqual(['first conversation']));
    const conv = backend.hooks[0]!.conversationId;
    await relay.api('POST', `/v1/conversations/${conv}/events`, { id: 'close-1', event: { type: 'closed' } });
    await until(() => expect(c.getSnapshot().closed).toBe(true));
    c.restart();
    await opened(c);
    expect(c.getSnapshot()).toMatchObject({ closed: false, timeline: [] });
    c.send('second conversation');
    await until(() => expect(backend.texts()).toEqual(['first conversation', 'second conversation']));
    expect(backend.hooks.at(-1)!.conversationId).not.toBe(conv);
  });
});

describe('streamed answers against a real relay', () => {
  test('an answer grows as a draft, comes back whole after a reconnect without repeated words, and its message replaces it', async () => {
    const { backend, relay } = await setup();
    const c = client(relay.base);
    c.connect();
    await opened(c);
    c.send('Do the boots run small?');
    await until(() => expect(texts(c)).toEqual(['Do the boots run small?', 'echo: Do the boots run small?']));
    const step = (body: unknown) => relay.api('POST', `/v1/conversations/${backend.hooks[0]!.conversationId}/streams/a1`, body);
    const answer = () => c.getSnapshot().timeline.filter((i) => i.id === 'a1') as ChatMessage[];

    expect((await step({ op: 'start' })).status).toBe(200);
    await step({ op: 'delta', offset: 0, text: 'They run ' });
    await until(() => expect(answer()).toMatchObject([{ draft: true, from: { role: 'bot', ai: true }, body: { type: 'text', text: 'They run ' } }]));
    expect(c.getSnapshot().unread).toBe(1); // the echo only: a draft is never unread

    // Offline, the draft stays on screen while the answer goes on without it.
    c.disconnect();
    await step({ op: 'delta', offset: 9, text: 'half a size ' });
    expect(answer()).toMatchObject([{ draft: true, body: { text: 'They run ' } }]);
    c.connect();
    await until(() => expect(answer()).toMatchObject([{ draft: true, body: { text: 'They run half a size ' } }]));
    await step({ op: 'delta', offset: 21, text: 'small.' });
    await until(() => expect(answer()).toMatchObject([{ body: { text: 'They run half a size small.' } }]));

    const sources = [{ title: 'Size guide', url: 'https://shop.example/sizes' }];
    expect((await step({ op: 'finish', sources })).status).toBe(200);
    await until(() => expect(answer()).toEqual([{ kind: 'msg', id: 'a1', seq: 3, ts: expect.any(Number), from: { role: 'bot', ai: true }, body: { type: 'text', text: 'They run half a size small.', sources } }]));
    expect(ids(c)).toEqual([expect.stringMatching(/^1:/), expect.stringMatching(/^2:/), '3:a1']);
    expect(c.getSnapshot().unread).toBe(2);
    expect(c.errors).toEqual([]);
  });

  test('feedback reaches the backend once, also when given while the socket was down', async () => {
    const { backend, relay } = await setup();
    const c = client(relay.base);
    c.connect();
    await opened(c);
    c.send('Do you ship to Iceland?');
    await until(() => expect(texts(c)).toHaveLength(2));
    const echo = c.getSnapshot().timeline[1]!;
    c.disconnect();
    c.feedback(echo.id, 'down', 'It only repeated my question');
    expect(c.getSnapshot().timeline[1]).toMatchObject({ id: echo.id, feedback: 'down' });
    c.connect();
    const feedback = () => backend.hooks.filter((h) => h.type === 'message.feedback').map((h) => h.data);
    await until(() => expect(feedback()).toEqual([{ messageId: echo.id, value: 'down', comment: 'It only repeated my question' }]));
    c.feedback(echo.id, 'up');
    await until(() => expect(feedback()).toHaveLength(2));
    await new Promise((r) => setTimeout(r, 100));
    expect(feedback()).toEqual([
      { messageId: echo.id, value: 'down', comment: 'It only repeated my question' },
      { messageId: echo.id, value: 'up' },
    ]);
    expect(c.errors).toEqual([]);
  });
});

describe('identity against a real relay', () => {
  test('a valid signature is verified, and the webhook says so', async () => {
    const { backend, relay } = await setup();
    const c = client(relay.base);
    c.identify({ userId: 'user-42', name: 'Ann', signature: await hmacSha256Hex(IDENTITY_SECRET, 'user-42') });
    c.connect();
    await opened(c);
    expect(c.getSnapshot().identity).toEqual({ userId: 'user-42', verified: true });
    c.send('order status?');
    await until(() => expect(backend.texts()).toEqual(['order status?']));
    expect(backend.hooks.at(-1)!.visitor.identity).toMatchObject({ userId: 'user-42', name: 'Ann', verified: true });
  });

  test('an identity without a signature is forwarded, flagged unverified', async () => {
    const { backend, relay } = await setup();
    const c = client(relay.base);
    c.identify({ userId: 'user-7', email: 'ann@shop.example', attrs: { plan: 'gold' } });
    c.connect();
    await opened(c);
    expect(c.getSnapshot().identity).toEqual({ userId: 'user-7', verified: false });
    c.send('hi');
    await until(() => expect(backend.texts()).toEqual(['hi']));
    expect(backend.hooks.at(-1)!.visitor.identity).toMatchObject({ userId: 'user-7', attrs: { plan: 'gold' }, verified: false });
  });

  test('a bad signature: the client gets an IDENTITY_INVALID error event and chats anonymously on one socket', async () => {
    const { relay, backend } = await setup();
    const c = client(relay.base);
    c.identify({ userId: 'user-42', signature: await hmacSha256Hex('not-the-identity-secret', 'user-42') });
    c.connect();
    await opened(c);
    await until(() => expect(c.errors).toEqual(['IDENTITY_INVALID']));
    expect(c.getSnapshot().identity).toBeNull();
    c.send('hi');
    await until(() => expect(texts(c)).toEqual(['hi', 'echo: hi']));
    expect(backend.hooks.at(-1)!.visitor.identity).toBeUndefined();
    expect(c.sockets()).toBe(1);
    // The refused signature is not sent again: a reconnect resumes the same anonymous chat.
    c.socket().terminate(); // the network drops
    await until(() => expect(c.sockets()).toBe(2));
    await opened(c);
    expect(c.errors).toEqual(['IDENTITY_INVALID']);
    c.send('again');
    await until(() => expect(texts(c)).toEqual(['hi', 'echo: hi', 'again', 'echo: again']));
  });

  test('identifying an open anonymous client reconnects it as the verified user', async () => {
    const { relay } = await setup();
    const c = client(relay.base);
    c.connect();
    await opened(c);
    expect(c.getSnapshot().identity).toBeNull();
    c.identify({ userId: 'user-9', signature: await hmacSha256Hex(IDENTITY_SECRET, 'user-9') });
    await until(() => expect(c.getSnapshot().identity).toEqual({ userId: 'user-9', verified: true }));
    expect(c.getSnapshot().state).toBe('open');
  });

  test('the product on screen follows the visitor into the conversation identify() switches to', async () => {
    const { relay } = await setup();
    const c = client(relay.base);
    c.connect();
    await opened(c);
    c.setContext({ product: { id: 'sku-1', title: 'Trail Runner 2', price: '€129.00' } });
    c.identify({ userId: 'user-11', signature: await hmacSha256Hex(IDENTITY_SECRET, 'user-11') });
    await until(() => expect(c.getSnapshot().identity).toEqual({ userId: 'user-11', verified: true }));
    // The conversation is stored with the visitor's first message, carrying the product.
    c.send('is this in stock?');
    await until(async () => {
      const { json } = await relay.api('GET', '/v1/conversations');
      const mine = (json.items as { identity?: { userId: string }; context?: { product?: { title: string } } }[]).find((i) => i.identity?.userId === 'user-11');
      expect(mine?.context?.product?.title).toBe('Trail Runner 2');
    });
  });

  test("a verified user sees their conversation from a second device", async () => {
    const { relay } = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-42');
    const laptop = client(relay.base, { storage: memoryStorage().storage });
    laptop.identify({ userId: 'user-42', signature });
    laptop.connect();
    await opened(laptop);
    laptop.send('sent from the laptop');
    await until(() => expect(texts(laptop)).toEqual(['sent from the laptop', 'echo: sent from the laptop']));

    const phone = client(relay.base, { storage: memoryStorage().storage });
    phone.identify({ userId: 'user-42', signature });
    phone.connect();
    await until(() => expect(texts(phone)).toEqual(['sent from the laptop', 'echo: sent from the laptop']));
    expect(ids(phone)).toEqual(ids(laptop));
    // And live: the phone's message shows on the laptop.
    phone.send('and from the phone');
    await until(() => expect(texts(laptop)).toContain('and from the phone'));

    // Someone else on a third device (another user) does not.
    const stranger = client(relay.base, { storage: memoryStorage().storage });
    stranger.identify({ userId: 'user-43', signature: await hmacSha256Hex(IDENTITY_SECRET, 'user-43') });
    stranger.connect();
    await opened(stranger);
    expect(stranger.getSnapshot().timeline).toEqual([]);
  });
});

describe('consent against a real relay', () => {
  test('with requireConsent nothing is stored until consent(); then the conversation survives a reload', async () => {
    const { relay } = await setup();
    const { storage, map } = memoryStorage();
    const c = client(relay.base, { storage, requireConsent: true });
    c.connect();
    await opened(c);
    c.send('no cookies yet');
    await until(() => expect(texts(c)).toEqual(['no cookies yet', 'echo: no cookies yet']));
    c.markRead();
    expect(map.size).toBe(0);
    c.consent();
    expect(map.size).toBeGreaterThan(0);
    c.disconnect();
    const reloaded = client(relay.base, { storage, requireConsent: true });
    expect(reloaded.getSnapshot().consented).toBe(true);
    expect(texts(reloaded)).toEqual(['no cookies yet', 'echo: no cookies yet']);
    reloaded.shutdown();
    expect(map.size).toBe(0);
  });
});

describe('past conversations against a real relay', () => {
  test('after restart(), the closed conversation is listed and opens read-only; another visitor gets NOT_FOUND for it', async () => {
    const { backend, relay } = await setup();
    const c = client(relay.base, { storage: memoryStorage().storage });
    c.connect();
    await opened(c);
    c.send('where is my parcel?');
    await until(() => expect(texts(c)).toEqual(['where is my parcel?', 'echo: where is my parcel?']));
    const first = backend.hooks[0]!.conversationId;
    await relay.api('POST', `/v1/conversations/${first}/events`, { id: 'bye', event: { type: 'closed' } });
    await until(() => expect(c.getSnapshot().closed).toBe(true));
    // The conversation on screen is not a past one.
    expect(await c.pastConversations()).toEqual([]);

    c.restart();
    await opened(c);
    c.send('a new question');
    await until(() => expect(texts(c)).toEqual(['a new question', 'echo: a new question']));
    expect(await c.pastConversations()).toEqual([{ id: first, createdAt: expect.any(Number), closed: true, lastSeq: 3, preview: 'echo: where is my parcel?' }]);
    const before = c.getSnapshot();
    const items = await c.openPast(first);
    expect(items.map((i) => (i.kind === 'msg' && i.body.type === 'text' ? `${i.seq}:${i.from.role}:${i.body.text}` : `${i.seq}:${i.kind}`))).toEqual([
      '1:visitor:where is my parcel?',
      '2:bot:echo: where is my parcel?',
      '3:event',
    ]);
    expect(c.getSnapshot()).toBe(before);
    expect(texts(c)).toEqual(['a new question', 'echo: a new question']);

    const other = client(relay.base);
    other.connect();
    await opened(other);
    await expect(other.openPast(first)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await other.pastConversations()).toEqual([]);
  });
});
