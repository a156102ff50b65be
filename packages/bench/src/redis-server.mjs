// A redis-server of the bench's own: a spare port on 127.0.0.1, its files in a scratch directory
// (one per server), started and stopped by the bench. Never the system's Redis: nothing here
// flushes or restarts a server it did not start.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** Persistence every bench Redis gets: AOF on, no RDB snapshots; `appendfsync` is the only knob. */
export const REDIS_PERSISTENCE = { appendonly: 'yes', save: '' };

/** A port the kernel just handed out on 127.0.0.1 (free a moment ago; the caller retries if it is taken by then). */
function sparePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `redis-server` (`bin`) with `appendonly yes`, `appendfsync` as given and no RDB, its AOF
 * in `dir`; resolves once it answers PING. `onProcess` gets the child at once (so a watchdog can
 * kill it). Returns its URL, `info()` (memory and CPU figures) and `stop()`.
 */
export async function startRedisServer({ bin = 'redis-server', dir, appendfsync = 'everysec', onProcess = () => {} }) {
  let lastError;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await sparePort();
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--appendonly', REDIS_PERSISTENCE.appendonly,
      '--appendfsync', appendfsync,
      '--save', REDIS_PERSISTENCE.save,
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      '--logfile', '',
    ];
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    onProcess(proc);
    let output = '';
    const keep = (chunk) => (output = (output + chunk).slice(-2000));
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => resolve({ code, signal }));
      proc.once('error', (error) => resolve({ error }));
    });
    const url = `redis://127.0.0.1:${port}`;
    const up = await Promise.race([ping(url, 10_000), exited.then(() => false)]);
    if (up === true) {
      try {
        return await handle(proc, exited, url, port, appendfsync);
      } catch (error) {
        proc.kill('SIGKILL');
        throw error;
      }
    }
    proc.kill('SIGKILL');
    const how = await exited;
    if (how.error?.code === 'ENOENT') throw new Error(`${bin} not found: install Redis (6.2 or later), pass --redis-server PATH, or leave the Redis scenarios out (--scenarios memory)`);
    lastError = new Error(`${bin} on port ${port} did not come up: ${how.error?.message ?? `exit ${how.signal ?? how.code}`}. ${output.trim()}`);
  }
  throw lastError;
}

/** Resolves true once the server at `url` answers PING, false after `timeoutMs`. */
async function ping(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return true;
    } catch {
      // not listening yet
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function handle(proc, exited, url, port, appendfsync) {
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  const field = (text, name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  const version = /^redis_version:(\S+)/m.exec(await admin.info('server'))?.[1] ?? '?';
  return {
    url,
    port,
    pid: proc.pid,
    proc,
    appendfsync,
    version,
    /** `used_memory` (bytes) and the server's CPU time so far (seconds, user + system, every thread). */
    async info() {
      const [memory, cpu] = await Promise.all([admin.info('memory'), admin.info('cpu')]);
      return { usedMemory: field(memory, 'used_memory'), cpuSec: field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys') };
    },
    /** SIGTERM (SIGKILL after 5 s); resolves once the process is gone. */
    async stop() {
      admin.disconnect();
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}
