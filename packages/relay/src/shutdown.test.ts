// SIGTERM on the built CLI with the SQLite engine: sockets close with a reconnect code, the
// delivery in flight finishes (or, past `webhooks.drainMs`, is cut and sent again after the
// restart), the engine closes, and a restart resumes the queue. `npm test` builds first.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CLOSE } from '@parley/protocol';
import { cli, configFile, killChildren, listening, requireBuiltCli, start } from './test-support/cli-process.js';
import { TestClient, messageOf, startBackend, testConfig, type BackendAnswer, type Recorded } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(requireBuiltCli);
afterEach(async () => {
  killChildren();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The CLI on the config `file` (its SQLite file named there); resolves once it listens, with its process and how it exits. */
async function startCli(file: string) {
  const child = start('node', [cli, '--config', file], { PARLEY_DATA: '' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const base = await listening(child);
  return { child, exited, wsUrl: `${base.replace('http', 'ws')}/v1/widget` };
}

/** A relay config on a fresh SQLite file, webhooks to `webhookUrl`. */
function sqliteConfig(webhookUrl: string, drainMs: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-shutdown-'));
  return configFile({ ...testConfig(webhookUrl), engine: { type: 'sqlite', path: join(dir, 'relay.db') }, host: '127.0.0.1', port: 0, logLevel: 'info', webhooks: { drainMs, retryScheduleMs: [50, 50, 50, 50, 50] } });
}

/** A visitor sends m1 and m2; resolves once m1's delivery has reached the backend (m2 waits behind it). */
async function twoMessages(wsUrl: string, backend: { waitFor: (p: (r: Recorded[]) => boolean) => Promise<Recorded[]> }): Promise<TestClient> {
  const c = await TestClient.open(wsUrl);
  cleanups.push(() => c.close());
  await c.hello();
  c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'one' } });
  c.send({ t: 'send', id: 'm2', body: { type: 'text', text: 'two' } });
  await c.take((f) => f.t === 'ack' && f.id === 'm2');
  await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'm1'));
  return c;
}

const deliveredIds = (received: Recorded[]) => received.map((r) => `${r.json.type}:${messageOf(r.json)?.id ?? ''}`);

describe('graceful stop', () => {
  test('SIGTERM closes sockets with GOING_AWAY, lets the delivery in flight finish, exits 0; a restart resumes the queue', { timeout: 30_000 }, async () => {
    let holdFirst: (() => void) | undefined;
    const backend = await startBackend((rec): BackendAnswer => (messageOf(rec.json)?.id === 'm1' && !holdFirst ? { status: 204, delayMs: 800 } : { status: 204 }));
    cleanups.push(backend.close);
    const file = sqliteConfig(backend.url, 5_000);
    const relay = await startCli(file);
    // m1's delivery is in flight (the backend takes 800 ms); m2 waits behind it.
    const c = await twoMessages(relay.wsUrl, backend);
    holdFirst = () => {};
    relay.child.kill('SIGTERM');
    expect((await c.waitClosed()).code).toBe(CLOSE.GOING_AWAY);
    expect(await relay.exited).toBe(0);
    expect(deliveredIds(backend.received)).toEqual(['conversation.started:', 'message.created:m1']);

    // Restarted on the same file: m2 goes out, and m1 (completed before the stop) does not go again.
    await startCli(file);
    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'm2'));
    await new Promise((r) => setTimeout(r, 200));
    expect(deliveredIds(backend.received)).toEqual(['conversation.started:', 'message.created:m1', 'message.created:m2']);
  });

  test('a delivery still running after drainMs is cut, and sent again (in order) after the restart', { timeout: 30_000 }, async () => {
    let slow = true;
    const backend = await startBackend((rec): BackendAnswer => (messageOf(rec.json)?.id === 'm1' && slow ? { status: 204, delayMs: 5_000 } : { status: 204 }));
    cleanups.push(backend.close);
    const file = sqliteConfig(backend.url, 200);
    const relay = await startCli(file);
    await twoMessages(relay.wsUrl, backend);
    const stopping = Date.now();
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(4_000);

    slow = false;
    await startCli(file);
    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'm2'));
    expect(deliveredIds(backend.received)).toEqual(['conversation.started:', 'message.created:m1', 'message.created:m1', 'message.created:m2']);
    expect(backend.received[2]!.headers['webhook-id']).toBe(backend.received[1]!.headers['webhook-id']);
  });
});
