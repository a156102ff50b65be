// The figures of the side-by-side bench: each takes a server (its process's stats over IPC) and
// the visitors that drive it, and returns raw numbers; stats.mjs turns them into percentiles and
// ratios.
import { cpuSeconds } from './processes.mjs';
import { closeAll, openMany } from './clients.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** How long one message may wait for its ack or reply before the run fails (a lost message, not a slow one). */
const SEND_TIMEOUT_MS = 30_000;

/** `promise`, or a rejection with `message()` after `ms`. */
function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * Memory growth of `server`'s process per connection while it holds `n` idle connections from
 * `open()`, on top of a base of `n / 10` already open (a full GC before each reading). The base
 * takes the process past its start-up state (heap pages still to be committed, a heap V8 shrank
 * while idle), which otherwise lands in the growth in amounts that change from run to run. The
 * growth of V8's young generation (empty after the GC) is taken off the RSS growth: V8 sizes it to
 * the allocation rate while the connections open, from 1 to 32 MB, whatever they then hold.
 * Returns the figure and every connection, still open.
 */
export async function idleMemory(open, server, n) {
  const base = await openMany(open, Math.max(1, Math.round(n / 10)));
  await sleep(300);
  const s0 = await server.stats(true);
  const t0 = performance.now();
  const conns = await openMany(open, n);
  const openMs = performance.now() - t0;
  await sleep(500);
  const s1 = await server.stats(true);
  const [before, after] = [s0.mem, s1.mem];
  const heapish = (m) => m.heapUsed + m.external;
  // The young generation is empty after the full GC; what it grew by is a buffer V8 sized to the
  // allocation rate of the opening, not memory the connections hold, and it is taken off.
  const young = (s1.spaces?.new_space ?? 0) - (s0.spaces?.new_space ?? 0);
  return {
    figure: {
      connections: n,
      base: base.length,
      openPerSec: Math.round(n / (openMs / 1000)),
      rssBefore: before.rss,
      rssAfter: after.rss,
      youngGrowth: young,
      rssBytesPerConn: Math.round(Math.max(1, (after.rss - before.rss - young) / n)),
      rssRawBytesPerConn: Math.round(Math.max(1, (after.rss - before.rss) / n)),
      heapBytesPerConn: Math.round(Math.max(1, (heapish(after) - heapish(before)) / n)),
    },
    conns: [...base, ...conns],
  };
}

/** The visitor `message.created` events the backend has counted for `name`. */
async function backendEvents(backend, name) {
  return (await backend.stats()).counts?.[name]?.events ?? 0;
}

/**
 * `k` visitors on their own sockets, each sending its next message as soon as the last one is
 * done, for `seconds`; every message's time is kept. The server's CPU time is read before and
 * after; when `backendName` is given it runs until the backend has counted every message of the
 * window (the relay delivers events after the ack: that work is part of the figure). The
 * backend's CPU time is read too, apart.
 */
export async function loadWindow({ visitors, server, k, seconds, backend, backendName, label = 'a server' }) {
  const conns = await openMany(() => visitors.open(), k, 50);
  await sleep(200);
  const events0 = backendName ? await backendEvents(backend, backendName) : 0;
  const b0 = backend ? await backend.stats() : undefined;
  const s0 = await server.stats();
  const latencies = [];
  let running = true;
  let failed;
  const t0 = performance.now();
  const stop = setTimeout(() => (running = false), seconds * 1000);
  await Promise.all(
    conns.map(async (c) => {
      while (running && !failed) {
        try {
          latencies.push(await withTimeout(visitors.send(c), SEND_TIMEOUT_MS, () => `a message on ${label} got no answer in ${SEND_TIMEOUT_MS / 1000} s`));
        } catch (err) {
          failed ??= err;
        }
      }
    }),
  );
  clearTimeout(stop);
  if (failed) throw failed;
  const wall = (performance.now() - t0) / 1000;
  const sWindow = await server.stats();
  let drainMs = 0;
  let drained = true;
  if (backendName) {
    const t1 = performance.now();
    const deadline = Date.now() + 60_000;
    while ((await backendEvents(backend, backendName)) - events0 < latencies.length) {
      if (Date.now() > deadline) {
        drained = false;
        break;
      }
      await sleep(10);
    }
    drainMs = performance.now() - t1;
  }
  const s1 = drainMs > 0 ? await server.stats() : sWindow;
  const b1 = backend ? await backend.stats() : undefined;
  await closeAll(conns);
  return {
    messages: latencies.length,
    wall,
    cpu: cpuSeconds(s0.cpu, s1.cpu),
    cpuWindow: cpuSeconds(s0.cpu, sWindow.cpu),
    backendCpu: b0 ? cpuSeconds(b0.cpu, b1.cpu) : 0,
    // The server's read and write syscalls (sockets, mostly) over the window and the drain.
    syscalls: s0.syscalls && s1.syscalls ? { reads: s1.syscalls.reads - s0.syscalls.reads, writes: s1.syscalls.writes - s0.syscalls.writes } : undefined,
    latencies,
    drainMs,
    drained,
  };
}

/**
 * `n` connections from `open()` opened all at once (no batching), each timed from the start
 * until `ready(conn)` resolves. Returns the times (ms), the wall time, the server's CPU time and
 * the connections.
 */
export async function stampede(open, ready, server, n) {
  const s0 = await server.stats();
  const t0 = performance.now();
  const times = [];
  const conns = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const conn = await open(i);
      await ready(conn);
      times.push(performance.now() - t0);
      return conn;
    }),
  );
  const wall = performance.now() - t0;
  const s1 = await server.stats();
  return { times, wall, cpu: cpuSeconds(s0.cpu, s1.cpu), conns };
}

/**
 * `GET /v1/conversations` on the relay at `base` for a site with `expected` conversations, `reps`
 * times: each time every page is walked (`?limit=&cursor=` while `nextCursor` comes back; a
 * relay without paging answers one `{ items }` with no `nextCursor`). Returns each walk's time, the first page's
 * time, the pages and conversations of a walk, its bytes and the relay's CPU time per walk.
 */
export async function listConversations({ base, apiSecret, server, reps, pageSize }) {
  const get = async (cursor) => {
    const url = new URL('/v1/conversations', base);
    if (pageSize) url.searchParams.set('limit', String(pageSize));
    if (cursor) url.searchParams.set('cursor', cursor);
    const t0 = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${apiSecret}` } });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET /v1/conversations: HTTP ${res.status} ${text.slice(0, 200)}`);
    const json = JSON.parse(text);
    return { ms: performance.now() - t0, bytes: Buffer.byteLength(text), json };
  };
  const walks = [];
  const firstPages = [];
  let shape;
  const s0 = await server.stats();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    let cursor;
    let pages = 0;
    let count = 0;
    let bytes = 0;
    for (;;) {
      const page = await get(cursor);
      if (pages === 0) firstPages.push(page.ms);
      pages++;
      bytes += page.bytes;
      const list = page.json.items ?? page.json.conversations ?? [];
      shape = 'nextCursor' in page.json ? 'paged' : 'single';
      count += list.length;
      cursor = page.json.nextCursor;
      if (!cursor || pages > 10_000) break;
    }
    walks.push({ ms: performance.now() - t0, pages, count, bytes });
  }
  const s1 = await server.stats();
  return { walks, firstPages, shape, cpuMsPerWalk: (cpuSeconds(s0.cpu, s1.cpu) * 1000) / reps };
}
