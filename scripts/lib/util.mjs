import { rmSync } from 'node:fs';
// Small helpers shared by scripts/crash-test.mjs and scripts/chaos.mjs.
import { createServer as createNetServer } from 'node:net';

/** mulberry32: a seeded PRNG in [0, 1), so a seed replays the same pacing and kill times. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
export const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** Add `by` to the count of `key`. */
export const count = (map, key, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

/** A port nothing listens on right now; a child keeps it across its restarts. */
export function freePort(host) {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A Storage stand-in over a Map: one per widget, as one browser profile's localStorage. */
export function memoryStorage() {
  const map = new Map();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, String(v)), removeItem: (k) => void map.delete(k) };
}

/** The p-th percentile (0–100, nearest rank) of numbers; undefined when there are none. */
export function percentile(values, p) {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Run `cleanup` (kill the run's children) and remove the scratch `dir` however the process ends:
 * normally, on SIGINT/SIGTERM/SIGHUP (exit 2), or on an uncaught error (exit 2, "the run broke").
 */
export function cleanUpOnExit(name, dir, cleanup, signalMessage) {
  process.on('exit', () => {
    cleanup();
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      console.error(`${name}: ${signal}; ${signalMessage}`);
      process.exit(2);
    });
  }
  for (const event of ['uncaughtException', 'unhandledRejection']) {
    process.on(event, (err) => {
      console.error(`${name}: the run broke: ${err?.stack ?? err}`);
      process.exit(2);
    });
  }
}
