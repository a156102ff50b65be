// SIGTERM on the built CLI with the SQLite engine: sockets close with a reconnect code, the
// delivery in flight finishes (or, past `webhooks.drainMs`, is cut and sent again after the
// restart), the engine closes, and a restart resumes the queue. `npm test` builds first.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CLOSE } from '@parley/protocol';
import { TestClient, messageOf, startBackend, testConfig, type BackendAnswer, type Recorded } from './test-support/harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'packages/relay/dist/cli.js');
const children: ChildProcessWithoutNullStreams[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  if (!existsSync(cli)) throw new Error('packages/relay/dist/cli.js is missing: run `npx tsc -b` (npm test does) first.');
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Relay {
  child: ChildProcessWithoutNullStreams;
  base: string;
  wsUrl: string;
  exited: Promise<number | null>;
}

/** The CLI on a SQLite file; resolves once it listens. */
function startCli(file: string, port = 0): Promise<Relay> {
  const child = spawn('node', [cli, '--config', file], { cwd: root, detached: true, env: { ...process.env, PORT: String(port) } });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      if (m) resolve({ child, base: m[1]!, wsUrl: `ws://127.0.0.1:${m[2]}/v1/widget`, exited });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`relay exited with ${code}: ${out.slice(-2000)}`)));
  });
}

/** A relay config on a fresh SQLite file pointing at `webhookUrl`. */
function configFile(webhookUrl: string, drainMs: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-shutdown-'));
  const file = join(dir, 'relay.json');
  const config = { ...testConfig(webhookUrl), engine: { type: 'sqlite', path: join(dir, 'relay.db') }, host: '127.0.0.1', logLevel: 'info', webhooks: { drainMs, retryScheduleMs: [50, 50, 50, 50, 50] } };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const deliveredIds = (received: Recorded[]) => received.map((r) => `${r.json.type}:${messageOf(r.json)?.id ?? ''}`);

describe('graceful stop', () => {
  test('SIGTERM closes sockets with GOING_AWAY, lets the delivery in flight finish, exits 0; a restart resumes the queue', { timeout: 30_000 }, async () => {
    let holdFirst: (() => void) | undefined;
    const backend = await startBackend((rec): BackendAnswer => (messageOf(rec.json)?.id === 'm1' && !holdFirst ? { status: 204, delayMs: 800 } : { status: 204 }));
    cleanups.push(backend.close);
    const file = configFile(backend.url, 5_000);
    const relay = await startCli(file);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'one' } });
    c.send({ t: 'send', id: 'm2', body: { type: 'text', text: 'two' } });
    await c.take((f) => f.t === 'ack' && f.id === 'm2');
    // m1's delivery is in flight (the backend takes 800 ms); m2 waits behind it.
    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'm1'));
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
    const file = configFile(backend.url, 200);
    const relay = await startCli(file);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'one' } });
    c.send({ t: 'send', id: 'm2', body: { type: 'text', text: 'two' } });
    await c.take((f) => f.t === 'ack' && f.id === 'm2');
    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'm1'));
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
