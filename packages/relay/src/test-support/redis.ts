// Redis for tests: the shared server at PARLEY_TEST_REDIS_URL (default 127.0.0.1:6379), each test
// on its own key prefix, and a private `redis-server` (AOF, a spare port, a scratch dir) for tests
// that kill and restart it. The shared server is never restarted or flushed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CI = process.env.CI === 'true';

/** True when a Redis server answers PING at `url`. */
export async function reachable(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 1000, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * Whether the shared Redis answers. With `CI=true` a missing server throws (the Redis tests must
 * run in CI); elsewhere it warns and the caller skips.
 */
export async function sharedRedisAvailable(what: string): Promise<boolean> {
  const ok = await reachable(REDIS_URL);
  if (!ok && CI) throw new Error(`CI=true: ${what} need a Redis server at ${REDIS_URL}, and none answered.`);
  if (!ok) console.warn(`Skipping ${what}: no Redis server at ${REDIS_URL} (set PARLEY_TEST_REDIS_URL, or CI=true to make this fail).`);
  return ok;
}

/** A fresh key prefix. */
export const newPrefix = (): string => `parley-test:${randomBytes(6).toString('hex')}:`;

/** Delete every key under `prefix` on the server at `url` (SCAN, never KEYS). */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url);
  try {
    const pattern = prefix.replace(/[*?[\]\\]/g, '\\$&') + '*';
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length) await r.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await r.quit();
  }
}

/** Whether `redis-server` is on the PATH (required with `CI=true`). */
export function hasRedisServer(what: string): boolean {
  const ok = spawnSync('redis-server', ['--version']).status === 0;
  if (!ok && CI) throw new Error(`CI=true: ${what} need the redis-server binary on the PATH.`);
  return ok;
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A private `redis-server` with AOF (`appendfsync always`) that a test may kill and start again on the same port and data. */
export interface OwnRedis {
  url: string;
  /** SIGKILL the server and wait for it to exit. */
  kill(): Promise<void>;
  /** Start it again on the same port and directory (the AOF brings the data back); resolves once it answers. */
  restart(): Promise<void>;
  /** Kill it and remove its directory. */
  stop(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  const serve = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await reachable(url))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const kill = async () => {
    const s = server;
    server = undefined;
    if (!s || s.exitCode !== null) return;
    const exited = new Promise((r) => s.once('exit', r));
    s.kill('SIGKILL');
    await exited;
  };
  await serve();
  return {
    url,
    kill,
    restart: serve,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
