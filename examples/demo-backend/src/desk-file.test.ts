// The demo backend with a data folder: its desk survives a restart (fake relay, temp folder).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HANDOFF_VALUE } from '@parley/protocol';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { startDemoBackend, type DemoBackend } from './demo-backend.js';
import { API_SECRET, WEBHOOK_SECRET, consoleApi, deliver, startFakeRelay, visitorMessage, type FakeRelay } from './test-support.js';

let relay: FakeRelay;
let dataDir: string;
const running: DemoBackend[] = [];

async function start(): Promise<DemoBackend> {
  const backend = await startDemoBackend({
    port: 0,
    relayUrl: relay.url,
    apiSecret: API_SECRET,
    webhookSecret: WEBHOOK_SECRET,
    shopUrl: 'http://shop.test',
    log: () => {},
    dataDir,
  });
  running.push(backend);
  await backend.settled();
  return backend;
}

async function stop(backend: DemoBackend): Promise<void> {
  running.splice(running.indexOf(backend), 1);
  await backend.close();
}

beforeEach(async () => {
  relay = await startFakeRelay();
  dataDir = mkdtempSync(join(tmpdir(), 'parley-desk-'));
});

afterEach(async () => {
  for (const backend of running.splice(0)) await backend.close();
  await relay.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const state = async (url: string) => (await consoleApi(url, 'GET', '/console/api/state')).data;
const statuses = (s: any) => Object.fromEntries(s.conversations.map((c: any) => [c.id, c.status]));

test('keeps every conversation with its status and transcript, the ratings and the left messages across a restart', async () => {
  let backend = await start();
  await deliver(backend.url, visitorMessage('c_bot', { type: 'text', text: 'order 1001' }));
  await deliver(backend.url, visitorMessage('c_wait', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
  await deliver(backend.url, visitorMessage('c_agent', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
  await backend.settled();
  await consoleApi(backend.url, 'POST', '/console/api/conversations/c_agent/messages', { text: 'Mia here.' });
  await deliver(backend.url, visitorMessage('c_closed', { type: 'text', text: 'hello' }));
  await consoleApi(backend.url, 'POST', '/console/api/conversations/c_closed/close', {});
  await deliver(backend.url, visitorMessage('c_closed', { type: 'rating', score: 4, comment: 'Good' }, 'rating.submitted'));
  await deliver(backend.url, visitorMessage('c_offline', { type: 'contact', email: 'ana@example.com', text: 'Call me back' }));
  await backend.settled();
  const before = await state(backend.url);
  const transcriptBefore = (await consoleApi(backend.url, 'GET', '/console/api/conversations/c_agent')).data.entries;
  await stop(backend);

  backend = await start();
  const after = await state(backend.url);
  expect(statuses(after)).toEqual({ c_bot: 'bot', c_wait: 'waiting', c_agent: 'agent', c_closed: 'closed', c_offline: 'bot' });
  expect(after.conversations).toEqual(before.conversations);
  expect(after.conversations.find((c: any) => c.id === 'c_wait').position).toBe(1);
  expect(after.conversations.find((c: any) => c.id === 'c_agent').agent).toBe('Mia');
  expect(after.ratings).toEqual([expect.objectContaining({ conversationId: 'c_closed', score: 4, comment: 'Good' })]);
  expect(after.contacts).toEqual([expect.objectContaining({ conversationId: 'c_offline', email: 'ana@example.com', text: 'Call me back' })]);
  const transcriptAfter = (await consoleApi(backend.url, 'GET', '/console/api/conversations/c_agent')).data.entries;
  expect(transcriptAfter).toEqual(transcriptBefore);
  expect(transcriptAfter.map((e: any) => e.body?.text ?? e.event?.type)).toEqual(
    expect.arrayContaining([expect.stringMatching(/human/), 'handoff', 'agent_joined', 'Mia here.']),
  );

  // The agent still has it after the restart: the bot stays quiet, and the queue still counts c_wait.
  const { status, reply } = await deliver(backend.url, visitorMessage('c_agent', { type: 'text', text: 'shipping?' }));
  expect([status, reply]).toEqual([204, null]);
  const queued = await deliver(backend.url, visitorMessage('c_new', { type: 'text', text: 'talk to a human' }));
  expect(queued.reply.messages[0].body.text).toMatch(/number 2 in the queue/);
});

test('a webhook delivered again after a restart gets the same reply and is counted once', async () => {
  let backend = await start();
  const order = visitorMessage('c_retry', { type: 'text', text: 'order 1001' });
  const rating = visitorMessage('c_retry', { type: 'rating', score: 5 }, 'rating.submitted');
  const first = await deliver(backend.url, order);
  await deliver(backend.url, rating);
  await stop(backend);

  backend = await start();
  expect((await state(backend.url)).ratings).toHaveLength(1);
  expect(await deliver(backend.url, order)).toEqual(first);
  expect((await deliver(backend.url, rating)).status).toBe(204);
  expect((await state(backend.url)).ratings).toHaveLength(1);
});

test('saves to one desk.json, replaced whole (no temporary file is left)', async () => {
  const backend = await start();
  await deliver(backend.url, visitorMessage('c_file', { type: 'text', text: 'hello' }));
  await stop(backend);
  expect(readdirSync(dataDir)).toEqual(['desk.json']);
  const saved = JSON.parse(readFileSync(join(dataDir, 'desk.json'), 'utf8'));
  expect(saved).toMatchObject({ version: 1, switchOn: true, conversations: [{ id: 'c_file', status: 'bot' }] });
});

test('the agents-online switch is kept too', async () => {
  let backend = await start();
  await consoleApi(backend.url, 'POST', '/console/api/availability', { online: false });
  await stop(backend);
  backend = await start();
  expect((await state(backend.url)).availability).toMatchObject({ switchOn: false, online: false });
  expect(relay.calls.filter((c) => c.path === '/v1/availability').map((c) => c.body.online)).toEqual([true, false, false]);
});

test('refuses to start on a state file it cannot read, naming the file', async () => {
  writeFileSync(join(dataDir, 'desk.json'), '{"version": 1, "conversations": [');
  await expect(start()).rejects.toThrow(join(dataDir, 'desk.json'));
  // Nothing was overwritten.
  expect(readFileSync(join(dataDir, 'desk.json'), 'utf8')).toBe('{"version": 1, "conversations": [');
});
