// The real relay and the demo backend together, driven by a `ws` client as the widget.
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { createRelayClient, signIdentity } from '@parley/backend';
import { HANDOFF_VALUE, PROTOCOL_VERSION, decodeServerFrame, type ServerFrame } from '@parley/protocol';
import { buildApp } from '@parley/relay';
import { afterEach, expect, test } from 'vitest';
import { startDemoBackend } from './demo-backend.js';
import { API_SECRET, WEBHOOK_SECRET, consoleApi } from './test-support.js';

const ORIGIN = 'https://shop.example';
const IDENTITY_SECRET = 'identity-secret-for-the-e2e-test';
const cleanups: Array<() => Promise<unknown> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A widget stand-in: records every frame; `next` takes the first unread one that matches. */
class Widget {
  readonly frames: ServerFrame[] = [];
  private read = new Set<number>();
  private wake: (() => void) | null = null;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const decoded = decodeServerFrame(data.toString());
      if (!decoded.ok) throw new Error(`invalid frame from the relay: ${decoded.message}`);
      this.frames.push(decoded.frame);
      this.wake?.();
    });
  }
  send(frame: unknown) {
    this.ws.send(JSON.stringify(frame));
  }
  async next(match: (f: any) => boolean, what: string): Promise<any> {
    const deadline = Date.now() + 8000;
    for (;;) {
      const i = this.frames.findIndex((f, i) => !this.read.has(i) && match(f));
      if (i >= 0) {
        this.read.add(i);
        return this.frames[i];
      }
      if (Date.now() > deadline) throw new Error(`no ${what}; frames: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
  }
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 8000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a visitor chats with the bot, is handed to an agent in the console and rates the conversation (real relay)', async () => {
  // The backend must know the relay's URL and the relay the backend's: start the backend
  // first, with a fetch that waits for the relay's address.
  let relayUrl!: (url: string) => void;
  const relayReady = new Promise<string>((resolve) => (relayUrl = resolve));
  const backend = await startDemoBackend({
    port: 0,
    relayUrl: 'http://relay.pending',
    apiSecret: API_SECRET,
    webhookSecret: WEBHOOK_SECRET,
    identitySecret: IDENTITY_SECRET,
    shopUrl: ORIGIN,
    log: () => {},
    fetch: async (input, init) => fetch(String(input).replace('http://relay.pending', await relayReady), init),
  });
  cleanups.push(() => backend.close());
  const app = buildApp(
    {
      tokenSecret: 'token-secret-for-the-e2e-test-0123456789',
      engine: { type: 'memory' },
      logLevel: 'silent',
      sites: [
        {
          siteKey: 'pk_demo',
          name: 'Parley Demo Shop',
          allowedOrigins: [ORIGIN],
          webhookUrl: backend.webhookUrl,
          webhookSecret: WEBHOOK_SECRET,
          apiSecret: API_SECRET,
          identitySecret: IDENTITY_SECRET,
          greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
        },
      ],
    },
    { logger: false, webhooks: { pollMs: 20 }, closeGraceMs: 100 },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  relayUrl(`http://127.0.0.1:${port}`);
  await backend.settled();

  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/widget`, { origin: ORIGIN });
  const widget = new Widget(ws);
  cleanups.push(() => ws.close());
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  widget.send({
    t: 'hello',
    v: PROTOCOL_VERSION,
    siteKey: 'pk_demo',
    page: { url: `${ORIGIN}/p/trail-runner-2`, title: 'Trail Runner 2', locale: 'en-GB' },
    identity: { userId: 'u_1001', name: 'Ana Demo', signature: await signIdentity(IDENTITY_SECRET, 'u_1001') },
  });
  const welcome = await widget.next((f) => f.t === 'welcome', 'welcome');
  expect(welcome.online).toBe(true);
  const conversationId: string = welcome.conversationId;
  const bot = (f: any) => f.t === 'msg' && f.from.role === 'bot';

  // A greeting button: the bot answers inline, labelled as the bot.
  widget.send({ t: 'send', id: 'v1', body: { type: 'postback', value: 'shipping', label: 'Shipping' } });
  const shipping = await widget.next(bot, 'the shipping answer');
  expect(shipping).toMatchObject({ from: { role: 'bot', name: 'Parley Bot' }, body: { type: 'quick_replies' } });
  expect(shipping.body.text).toMatch(/ship/i);

  // An order number: an order card.
  widget.send({ t: 'send', id: 'v2', body: { type: 'text', text: 'order 1001' } });
  const card = await widget.next((f) => bot(f) && f.body.type === 'card', 'the order card');
  expect(card.body).toMatchObject({ kind: 'order', title: 'Order #1001' });
  expect((await widget.next(bot, 'the order intro')).body.text).toBe('Here is order #1001:');

  // Talk to a human: the bot says so, then the handoff and the queue position arrive.
  widget.send({ t: 'send', id: 'v3', body: { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' } });
  expect((await widget.next(bot, 'the handoff answer')).body.text).toMatch(/human/);
  await widget.next((f) => f.t === 'event' && f.event.type === 'handoff' && f.event.state === 'requested', 'handoff requested');
  expect((await widget.next((f) => f.t === 'event' && f.event.type === 'queue', 'the queue position')).event.position).toBe(1);

  // The console lists the conversation as waiting, with the visitor's context and verified identity.
  const state = (await consoleApi(backend.url, 'GET', '/console/api/state')).data;
  expect(state.conversations[0]).toMatchObject({
    id: conversationId,
    status: 'waiting',
    position: 1,
    identity: { userId: 'u_1001', verified: true },
    context: { page: { title: 'Trail Runner 2' } },
  });

  // The agent takes it, types and replies: the visitor sees Mia.
  expect((await consoleApi(backend.url, 'POST', `/console/api/conversations/${conversationId}/take`, {})).status).toBe(200);
  expect((await widget.next((f) => f.t === 'event' && f.event.type === 'agent_joined', 'agent joined')).event.agent.name).toBe('Mia');
  await consoleApi(backend.url, 'POST', `/console/api/conversations/${conversationId}/typing`, { on: true });
  expect((await widget.next((f) => f.t === 'event' && f.event.type === 'typing', 'typing')).event).toMatchObject({ on: true, from: { name: 'Mia' } });
  await consoleApi(backend.url, 'POST', `/console/api/conversations/${conversationId}/messages`, { text: 'Hi Ana, Mia here.' });
  expect(await widget.next((f) => f.t === 'msg' && f.from.role === 'agent', 'the agent reply')).toMatchObject({ from: { name: 'Mia' }, body: { text: 'Hi Ana, Mia here.' } });

  // The bot stays quiet from now on.
  widget.send({ t: 'send', id: 'v4', body: { type: 'text', text: 'How long is shipping to Spain?' } });
  await widget.next((f) => f.t === 'ack' && f.id === 'v4', 'the ack');

  // Close and ask for a rating; the visitor rates; the console lists the rating.
  await consoleApi(backend.url, 'POST', `/console/api/conversations/${conversationId}/close`, {});
  await widget.next((f) => f.t === 'event' && f.event.type === 'rating_request', 'the rating request');
  await widget.next((f) => f.t === 'event' && f.event.type === 'closed', 'closed');
  widget.send({ t: 'send', id: 'v5', body: { type: 'rating', score: 5, comment: 'Lovely' } });
  const rating = await until(async () => (await consoleApi(backend.url, 'GET', '/console/api/state')).data.ratings[0], 'the rating in the console');
  expect(rating).toMatchObject({ conversationId, score: 5, comment: 'Lovely', agent: 'Mia' });

  // The relay's log, read with the SDK: no bot message after the agent joined.
  const relay = createRelayClient({ url: `http://127.0.0.1:${port}`, apiSecret: API_SECRET });
  const { entries } = await relay.history(conversationId, { limit: 200 });
  const joined = entries.findIndex((e) => e.kind === 'event' && e.event.type === 'agent_joined');
  expect(joined).toBeGreaterThan(0);
  expect(entries.slice(joined).filter((e) => e.kind === 'msg' && e.from.role === 'bot')).toEqual([]);
  expect(entries.slice(joined).map((e) => (e.kind === 'msg' ? `${e.from.role}:${e.body.type}` : e.event.type))).toEqual([
    'agent_joined',
    'handoff',
    'agent:text',
    'visitor:text',
    'rating_request',
    'closed',
    'visitor:rating',
  ]);

  // The console's transcript shows the same conversation, from the relay's history.
  const transcript = (await consoleApi(backend.url, 'GET', `/console/api/conversations/${conversationId}`)).data;
  expect(transcript.historyError).toBeUndefined();
  expect(transcript.entries.filter((e: any) => e.kind === 'msg').map((e: any) => e.from.role)).toEqual([
    'visitor',
    'bot',
    'visitor',
    'bot',
    'bot',
    'visitor',
    'bot',
    'agent',
    'visitor',
    'visitor',
  ]);
});
