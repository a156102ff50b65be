// The demo backend in AI mode behind the real relay, driven by a `ws` client as the widget:
// the answer streams as draft frames, lands once as a message, and the visitor's feedback
// comes back to the backend as a signed webhook.
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { HANDOFF_VALUE, PROTOCOL_VERSION, decodeServerFrame, type ServerFrame } from '@parley/protocol';
import { buildApp } from '@parley/relay';
import { afterEach, expect, test, vi } from 'vitest';
import { startDemoBackend, type DemoBackendOptions } from './demo-backend.js';
import { API_SECRET, WEBHOOK_SECRET, consoleApi } from './test-support.js';

const ORIGIN = 'https://shop.example';
const cleanups: Array<() => Promise<unknown> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startStack(extra: Partial<DemoBackendOptions> = {}, limits: Record<string, number> = {}) {
  let relayUrl!: (url: string) => void;
  const relayReady = new Promise<string>((resolve) => (relayUrl = resolve));
  const backend = await startDemoBackend({
    port: 0,
    relayUrl: 'http://relay.pending',
    apiSecret: API_SECRET,
    webhookSecret: WEBHOOK_SECRET,
    shopUrl: ORIGIN,
    log: () => {},
    fetch: async (input, init) => fetch(String(input).replace('http://relay.pending', await relayReady), init),
    bot: 'ai',
    aiWordMs: 15,
    ...extra,
  });
  cleanups.push(() => backend.close());
  const app = buildApp(
    {
      tokenSecret: 'token-secret-for-the-ai-e2e-test-0123456789',
      engine: { type: 'memory' },
      logLevel: 'silent',
      limits,
      sites: [
        {
          siteKey: 'pk_demo',
          name: 'Parley Demo Shop',
          allowedOrigins: [ORIGIN],
          webhookUrl: backend.webhookUrl,
          webhookSecret: WEBHOOK_SECRET,
          apiSecret: API_SECRET,
          greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
        },
      ],
    },
    { logger: false, webhooks: { pollMs: 20 }, closeGraceMs: 100 },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(async () => {
    backend.stopAnswers();
    await backend.settled();
    await app.close();
  });
  const port = (app.server.address() as AddressInfo).port;
  relayUrl(`http://127.0.0.1:${port}`);
  await backend.settled();
  return { backend, port };
}

/** A widget stand-in: every frame it received, in order. */
async function widget(port: number) {
  const frames: ServerFrame[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/widget`, { origin: ORIGIN });
  cleanups.push(() => ws.close());
  ws.on('message', (data) => {
    const decoded = decodeServerFrame(data.toString());
    if (!decoded.ok) throw new Error(`invalid frame from the relay: ${decoded.message}`);
    frames.push(decoded.frame);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const send = (frame: unknown) => ws.send(JSON.stringify(frame));
  send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_demo', page: { url: `${ORIGIN}/`, title: 'Shop', locale: 'en' } });
  await vi.waitFor(() => expect(frames.some((f) => f.t === 'welcome')).toBe(true));
  const welcome = frames.find((f) => f.t === 'welcome') as Extract<ServerFrame, { t: 'welcome' }>;
  return { frames, send, conversationId: welcome.conversationId };
}

const until = (fn: () => void) => vi.waitFor(fn, { timeout: 8000, interval: 20 });
type Msg = Extract<ServerFrame, { t: 'msg' }>;
type Draft = Extract<ServerFrame, { t: 'draft' }>;
const aiMessages = (frames: ServerFrame[]) => frames.filter((f): f is Msg => f.t === 'msg' && f.from.role === 'bot' && f.from.ai === true);
const drafts = (frames: ServerFrame[], id: string) => frames.filter((f): f is Draft => f.t === 'draft' && f.id === id);

/** The client's rule for drafts: keep `text` at `offset` when there is no gap. */
function applyDrafts(list: Draft[]): string[] {
  const seen: string[] = [];
  let draft = '';
  for (const d of list) {
    if (d.offset > draft.length) continue;
    draft = draft.slice(0, d.offset) + d.text;
    seen.push(draft);
  }
  return seen;
}

test('a typed question streams as drafts that grow into the AI answer, logged once with its sources; 👍 reaches the backend', async () => {
  const { backend, port } = await startStack();
  const w = await widget(port);
  w.send({ t: 'send', id: 'v1', body: { type: 'text', text: 'How long does shipping take?' } });

  await until(() => expect(aiMessages(w.frames)).toHaveLength(1));
  const [answer] = aiMessages(w.frames) as [Msg];
  expect(answer.from).toEqual({ role: 'bot', ai: true, name: 'Parley AI' });
  expect(answer.body).toMatchObject({
    type: 'quick_replies',
    text: expect.stringMatching(/^Orders placed before 3 pm ship the same day\..*Shipping is free over €50\.$/),
    sources: [{ title: 'Shipping and delivery times', url: `${ORIGIN}/help.html#shipping` }],
  });
  expect(answer.body.type === 'quick_replies' && answer.body.replies).toContainEqual({ label: 'Talk to a human', value: HANDOFF_VALUE });
  expect(answer.incomplete).toBeUndefined();

  // Drafts came first, each one the answer so far: growing, never repeating a word.
  const text = answer.body.type === 'quick_replies' ? answer.body.text : '';
  const grown = applyDrafts(drafts(w.frames, answer.id));
  expect(grown.length).toBeGreaterThan(2);
  for (const d of grown) expect(text.startsWith(d)).toBe(true);
  expect(w.frames.findIndex((f) => f.t === 'draft')).toBeLessThan(w.frames.indexOf(answer));
  for (const d of drafts(w.frames, answer.id)) expect(d.from).toMatchObject({ role: 'bot', ai: true });

  // The visitor likes it: the signed message.feedback webhook is verified and listed in the console.
  w.send({ t: 'feedback', id: 'fb1', messageId: answer.id, value: 'up' });
  const listed = await vi.waitFor(
    async () => {
      const feedback = (await consoleApi(backend.url, 'GET', '/console/api/state')).data.feedback;
      expect(feedback).toHaveLength(1);
      return feedback[0];
    },
    { timeout: 8000, interval: 50 },
  );
  expect(listed).toMatchObject({ conversationId: w.conversationId, messageId: answer.id, value: 'up', answer: expect.stringMatching(/^Orders placed/) });

  // The console's transcript holds the answer once, as the AI's.
  const transcript = (await consoleApi(backend.url, 'GET', `/console/api/conversations/${w.conversationId}`)).data.entries;
  expect(transcript.filter((e: any) => e.id === answer.id)).toEqual([expect.objectContaining({ seq: answer.seq, from: answer.from })]);
});

test('a model that breaks off: the visitor gets the text so far marked incomplete, then a way to a human', async () => {
  const { port } = await startStack({
    async *aiWrite(text) {
      for (const word of text.split(' ').slice(0, 4)) yield `${word} `;
      throw new Error('The model connection was lost.');
    },
  });
  const w = await widget(port);
  w.send({ t: 'send', id: 'v1', body: { type: 'text', text: 'How long does shipping take?' } });
  await until(() => expect(aiMessages(w.frames)).toHaveLength(2));
  const [broken, apology] = aiMessages(w.frames) as [Msg, Msg];
  // What the relay held when the model broke off: the start of the answer.
  expect(broken).toMatchObject({ incomplete: true, body: { type: 'text', text: expect.stringMatching(/^Orders /) } });
  expect('Orders placed before 3 pm ship the same day.'.startsWith(broken.body.type === 'text' ? broken.body.text : '-')).toBe(true);
  expect(apology.body).toMatchObject({ type: 'quick_replies', text: expect.stringMatching(/broke off/) });
  expect(apology.body.type === 'quick_replies' && apology.body.replies[0]).toEqual({ label: 'Talk to a human', value: HANDOFF_VALUE });
});

test('a relay that hears nothing for streamStallMs closes the answer as incomplete; "Talk to a human" still works', async () => {
  // A model that writes two words and then hangs until it is told to stop.
  const { port } = await startStack({
    async *aiWrite(text, signal) {
      yield* text.split(' ').slice(0, 2).map((w) => `${w} `);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      signal.throwIfAborted();
    },
  }, { streamStallMs: 500 });
  const w = await widget(port);
  w.send({ t: 'send', id: 'v1', body: { type: 'text', text: 'How long does shipping take?' } });
  await until(() => expect(w.frames.some((f) => f.t === 'draft')).toBe(true));
  await vi.waitFor(() => expect(aiMessages(w.frames)).toHaveLength(1), { timeout: 20_000, interval: 50 });
  expect(aiMessages(w.frames)[0]).toMatchObject({ incomplete: true, body: { text: expect.stringMatching(/^Orders placed\s*$/) } });

  w.send({ t: 'send', id: 'v2', body: { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' } });
  await until(() => expect(w.frames.some((f) => f.t === 'event' && f.event.type === 'queue')).toBe(true));
});
