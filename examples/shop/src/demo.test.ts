// `npm start` twice on the same data folder: the visitor's chat and the agent console's
// conversation are both still there. Headless: the real demo on free ports, the visitor is
// @parley/client over `ws`.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createClient, type ParleyClient, type SocketLike, type StorageLike } from '@parley/client';
import { afterEach, expect, test, vi } from 'vitest';
import { startDemo, type Demo } from './demo.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function demo(dataDir: string | null): Promise<Demo> {
  const d = await startDemo({ relayPort: 0, backendPort: 0, shopPort: 0, logLevel: 'silent', dataDir });
  const close = () => d.close();
  cleanups.push(close);
  return { ...d, close: () => (cleanups.splice(cleanups.indexOf(close), 1), d.close()) };
}

/** One browser profile's localStorage. */
function browserStorage() {
  const map = new Map<string, string>();
  const storage: StorageLike = { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
  return { map, storage };
}

/** The widget on the demo shop's page: the page's origin, the relay's URL, the profile's storage. */
function visitor(d: Demo, storage: StorageLike): ParleyClient {
  const c = createClient({
    siteKey: 'pk_demo',
    relayUrl: d.relayUrl,
    createSocket: (url) => new WebSocket(url, { origin: d.shopUrl }) as unknown as SocketLike,
    storage,
    backoff: { minMs: 20, maxMs: 100 },
    page: () => ({ url: `${d.shopUrl}/`, title: 'Parley Demo Shop' }),
  });
  c.connect();
  cleanups.push(() => c.disconnect());
  return c;
}

const until = (fn: () => void) => vi.waitFor(fn, { timeout: 8000, interval: 20 });
const lines = (c: ParleyClient) =>
  c.getSnapshot().timeline.map((i) => (i.kind === 'msg' ? `${i.seq}:${i.from.role}:${'text' in i.body ? i.body.text : i.body.type}` : `${i.seq}:event:${i.event.type}`));
const conversationOf = (map: Map<string, string>) => JSON.parse(map.get('parley:pk_demo:log')!).conv as string;
const api = async (d: Demo, method: 'GET' | 'POST', path: string, body?: unknown) => {
  const res = await fetch(`${d.backendUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, data: (await res.json()) as any };
};
const transcriptTexts = (entries: any[]) => entries.map((e) => (e.kind === 'msg' ? (e.body.text ?? e.body.title ?? e.body.label) : `[${e.event.type}]`));

test('a restart on the same data folder keeps the visitor\'s chat and the console\'s conversation', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-demo-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const { map, storage } = browserStorage();

  // First run: the bot answers, the visitor asks for a human, Mia takes it and replies.
  const first = await demo(dataDir);
  const before = visitor(first, storage);
  before.send('order 1001');
  await until(() => expect(lines(before)).toEqual(['1:visitor:order 1001', '2:bot:Here is order #1001:', '3:bot:card']));
  before.requestHuman();
  await until(() => expect(before.getSnapshot().queue).toMatchObject({ position: 1 }));
  const conversationId = conversationOf(map);
  expect((await api(first, 'POST', `/console/api/conversations/${conversationId}/messages`, { text: 'Mia here, checking order 1001.' })).status).toBe(201);
  await until(() => expect(lines(before).at(-1)).toMatch(/:agent:Mia here, checking order 1001\.$/));
  const chat = lines(before);
  const consoleBefore = (await api(first, 'GET', `/console/api/conversations/${conversationId}`)).data;
  before.disconnect();
  await first.close();
  expect(readdirSync(dataDir).sort()).toEqual(expect.arrayContaining(['desk.json', 'relay.db']));

  // Second run on new ports: the same browser profile comes back with its token and lastSeq.
  const second = await demo(dataDir);
  const after = visitor(second, storage);
  await until(() => expect(after.getSnapshot().state).toBe('open'));
  expect(conversationOf(map)).toBe(conversationId);
  expect(lines(after)).toEqual(chat);
  expect(after.getSnapshot().agent).toMatchObject({ name: 'Mia' });
  // The relay's log goes on where it was: the next message gets the next seq.
  const lastSeq = Math.max(...after.getSnapshot().timeline.map((i) => i.seq ?? 0));
  const next = after.send('Thanks, I will wait.');
  await until(() => expect(after.getSnapshot().timeline.find((i) => i.id === next.id)).toMatchObject({ status: 'sent', seq: lastSeq + 1 }));

  // Another browser with only the token (no stored history) gets the whole chat from the relay.
  const fresh = browserStorage();
  fresh.map.set('parley:pk_demo:token', map.get('parley:pk_demo:token')!);
  const replayed = visitor(second, fresh.storage);
  await until(() => expect(lines(replayed)).toEqual(lines(after)));

  // The console lists the conversation as Mia's, with its transcript.
  const state = (await api(second, 'GET', '/console/api/state')).data;
  expect(state.conversations).toEqual([expect.objectContaining({ id: conversationId, status: 'agent', agent: 'Mia' })]);
  await second.backend.settled();
  const consoleAfter = (await api(second, 'GET', `/console/api/conversations/${conversationId}`)).data;
  expect(consoleAfter.historyError).toBeUndefined();
  expect(transcriptTexts(consoleAfter.entries)).toEqual([...transcriptTexts(consoleBefore.entries), 'Thanks, I will wait.']);
  expect(transcriptTexts(consoleAfter.entries)).toEqual(
    expect.arrayContaining(['order 1001', 'Here is order #1001:', 'Talk to a human', '[handoff]', '[agent_joined]', 'Mia here, checking order 1001.']),
  );
});

test('without a data folder the demo keeps everything in memory and writes no files', async () => {
  const relayDefault = fileURLToPath(new URL('../../data/parley.db', import.meta.url));
  const existed = existsSync(relayDefault);
  const d = await demo(null);
  const { storage } = browserStorage();
  const c = visitor(d, storage);
  c.send('hello');
  await until(() => expect(lines(c)).toEqual(['1:visitor:hello', expect.stringMatching(/^2:bot:/)]));
  await d.close();
  expect(existsSync(relayDefault)).toBe(existed);
});
