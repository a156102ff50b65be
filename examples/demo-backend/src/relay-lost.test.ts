// The relay loses conversations (its memory engine restarted): the demo backend drops them
// from the console instead of keeping ghosts whose every action fails. Real relay, `ws` visitors.
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '@parley/protocol';
import { buildApp } from '@parley/relay';
import { afterEach, expect, test } from 'vitest';
import { startDemoBackend, type DemoBackend } from './demo-backend.js';
import { API_SECRET, WEBHOOK_SECRET, consoleApi } from './test-support.js';

const ORIGIN = 'https://shop.example';
const cleanups: Array<() => Promise<unknown> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A relay on the memory engine, on port 0. */
async function startRelay(webhookUrl: string) {
  const app = buildApp(
    {
      tokenSecret: 'token-secret-for-the-relay-lost-test-0123',
      engine: { type: 'memory' },
      logLevel: 'silent',
      sites: [{ siteKey: 'pk_demo', name: 'Parley Demo Shop', allowedOrigins: [ORIGIN], webhookUrl, webhookSecret: WEBHOOK_SECRET, apiSecret: API_SECRET }],
    },
    { logger: false, webhooks: { pollMs: 20 }, closeGraceMs: 100 },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

/**
 * The demo backend and a relay it reaches through `relay.url`; `restartRelay()` replaces the
 * relay by a fresh one (memory engine: every conversation is gone).
 */
async function setup() {
  let current = '';
  const backend: DemoBackend = await startDemoBackend({
    port: 0,
    relayUrl: 'http://relay.current',
    apiSecret: API_SECRET,
    webhookSecret: WEBHOOK_SECRET,
    shopUrl: ORIGIN,
    log: () => {},
    fetch: (input, init) => fetch(String(input).replace('http://relay.current', current), init),
  });
  cleanups.push(() => backend.close());
  let relay = await startRelay(backend.webhookUrl);
  current = relay.url;
  cleanups.push(() => relay.app.close());
  return {
    backend,
    relay: () => relay,
    async restartRelay() {
      await relay.app.close();
      relay = await startRelay(backend.webhookUrl);
      current = relay.url;
    },
  };
}

/** A visitor says hello and sends one text; resolves with the conversation id once the bot answered. */
async function visitorChats(relayUrl: string, text: string): Promise<string> {
  const ws = new WebSocket(`${relayUrl.replace('http', 'ws')}/v1/widget`, { origin: ORIGIN });
  cleanups.push(() => ws.close());
  const frames: any[] = [];
  let conversationId = '';
  const answered = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      frames.push(frame);
      if (frame.t === 'welcome') {
        conversationId = frame.conversationId;
        ws.send(JSON.stringify({ t: 'send', id: `m_${Date.now()}`, body: { type: 'text', text } }));
      }
      if (frame.t === 'msg' && frame.from.role === 'bot') resolve();
    });
    ws.once('error', reject);
    setTimeout(() => reject(new Error(`no bot answer; frames: ${JSON.stringify(frames)}`)), 8000).unref();
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_demo', page: { url: `${ORIGIN}/`, title: 'Shop' } }));
  await answered;
  return conversationId;
}

const listed = async (url: string) => ((await consoleApi(url, 'GET', '/console/api/state')).data.conversations as any[]).map((c) => c.id).sort();

test('a conversation the relay lost answers 404 NOT_FOUND in the console and leaves its list, for the transcript and for a reply', async () => {
  const { backend, relay, restartRelay } = await setup();
  const a = await visitorChats(relay().url, 'hello');
  const b = await visitorChats(relay().url, 'order 1001');
  expect(await listed(backend.url)).toEqual([a, b].sort());

  await restartRelay();

  const transcript = await consoleApi(backend.url, 'GET', `/console/api/conversations/${a}`);
  expect(transcript).toMatchObject({ status: 404, data: { error: { code: 'NOT_FOUND' } } });
  expect(await listed(backend.url)).toEqual([b]);

  const reply = await consoleApi(backend.url, 'POST', `/console/api/conversations/${b}/messages`, { text: 'Mia here.' });
  expect(reply).toMatchObject({ status: 404, data: { error: { code: 'NOT_FOUND' } } });
  expect(await listed(backend.url)).toEqual([]);
  // Gone for good: asking again is the console's plain 404.
  expect((await consoleApi(backend.url, 'GET', `/console/api/conversations/${b}`)).status).toBe(404);
});

test('opening the console drops the conversations the relay lost and keeps those it has', async () => {
  const { backend, relay, restartRelay } = await setup();
  const lost = await visitorChats(relay().url, 'hello');
  await restartRelay();
  const kept = await visitorChats(relay().url, 'order 1001');
  expect(await listed(backend.url)).toEqual([lost, kept].sort());

  const events = new AbortController();
  cleanups.push(() => events.abort());
  const res = await fetch(`${backend.url}/console/events`, { signal: events.signal });
  expect(res.status).toBe(200);
  await backend.settled();

  expect(await listed(backend.url)).toEqual([kept]);
  const transcript = await consoleApi(backend.url, 'GET', `/console/api/conversations/${kept}`);
  expect(transcript.status).toBe(200);
  expect(transcript.data.historyError).toBeUndefined();
});
