#!/usr/bin/env node
// `npm run chaos`: the relay's guarantees across instances, proven by breaking things. Three
// relay CLI processes share one `redis-server` (its AOF fsynced before every reply); 1,000
// widgets (the real @parley/client over `ws`, each with its own in-memory storage) run in a few
// worker processes, start on the relays in turn and reconnect to ANOTHER relay after any drop
// (no sticky sessions); a recording merchant backend in this process answers every visitor
// message over REST through a random relay. Mid-stream one relay is killed with SIGKILL and
// restarted, redis-server is killed and restarted from its AOF, and the backend is down for a
// while. At the end it counts what was lost, duplicated and reordered in both directions, the
// catch-up time of the widgets that were on the killed relay, prints a summary (and one
// `CHAOS_SUMMARY {json}` line) and exits 1 on any loss, on-screen duplicate or reordering, 2
// when the run itself broke or ran out of time. Build first: npx tsc -b packages/relay.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.mjs';
import { eventLoopDelay, isReady, redisProcess, relayProcess } from './lib/children.mjs';
import { readHistories } from './lib/history.mjs';
import { relayConfig } from './lib/relay-config.mjs';
import { cleanUpOnExit, count, freePort, percentile, prng, secs, sleep } from './lib/util.mjs';
import { directionLines, verdict } from './lib/verdict.mjs';
import { startWidget } from './lib/widget.mjs';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(ROOT, 'packages/relay/dist/cli.js');
const HOST = '127.0.0.1';
const ORIGIN = 'https://shop.example';
const SITE_KEY = 'pk_chaos';
const API_SECRET = 'chaos_api_secret_0123456789';
const WEBHOOK_SECRET = 'whsec_' + Buffer.from('chaos-test-webhook-secret-32byte').toString('base64');

const USAGE = `node scripts/chaos.mjs [--short] [--widgets N] [--relays R] [--messages M] [options]

Runs R relays on one redis-server and N widgets in K worker processes; kills one relay
(SIGKILL) and restarts it, restarts redis-server from its AOF, takes the backend down, then
counts lost, duplicated and reordered messages in both directions and the catch-up time of
the widgets that were on the killed relay. Exit 0 when nothing was lost, shown twice or
reordered; 1 otherwise; 2 when the run broke or passed its time limit.

  --short              the short run of npm test: 120 widgets × 4 messages, backend down 4 s
  --widgets N          simulated widgets (default 1000; 120 with --short)
  --relays R           relay processes (default 3)
  --messages M         messages per widget (default 10; 4 with --short)
  --workers K          worker processes holding the widgets (default 4; 2 with --short)
  --backend-down-ms T  how long the backend is down (default 20000; 4000 with --short)
  --seed S             seed of the pacing, kill times, relay choices and jitter (default 1)
  --send-ms T          how long the widgets keep sending (default 45000; 12000 with --short)
  --settle-ms T        how long to wait at the end for outboxes, webhooks and replies (default 90000; 40000 with --short)
  --relay-down-ms T    how long the killed relay stays dead (default 1000)
  --redis-down-ms T    how long redis-server stays dead (default 1500)
  --redis-signal S     SIGKILL (default) or SIGTERM for the redis restart
  --engine E           redis (default); memory (relays share nothing: the run must fail);
                       sqlite (one file; meaningful with --relays 1 only)
  --redis-server P     the redis-server binary (default redis-server)
  --webhook-batch B    the site's webhookBatch: up to B events per webhook request (default 1)
  --save FILE          also write the summary as JSON to FILE, with the date, the machine and Node
                       (docs/bench/chaos.json is the run npm run bench puts in docs/benchmarks.md)
  --timeout-ms T       hard stop for the whole run (default 600000; 115000 with --short)
Build first: npx tsc -b packages/relay`;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

function options() {
  const { values: a } = parseArgs({
    options: {
      short: { type: 'boolean', default: false },
      widgets: { type: 'string' },
      relays: { type: 'string', default: '3' },
      messages: { type: 'string' },
      workers: { type: 'string' },
      'backend-down-ms': { type: 'string' },
      seed: { type: 'string', default: '1' },
      'send-ms': { type: 'string' },
      'settle-ms': { type: 'string' },
      'relay-down-ms': { type: 'string', default: '1000' },
      'redis-down-ms': { type: 'string', default: '1500' },
      'redis-signal': { type: 'string', default: 'SIGKILL' },
      engine: { type: 'string', default: 'redis' },
      'redis-server': { type: 'string', default: 'redis-server' },
      'webhook-batch': { type: 'string', default: '1' },
      'timeout-ms': { type: 'string' },
      save: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (a.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const short = a.short;
  const int = (v, fallback, name, min) => {
    const n = Number(v ?? fallback);
    if (!Number.isInteger(n) || n < min) usage(`${name} must be an integer ≥ ${min}`);
    return n;
  };
  if (!['redis', 'memory', 'sqlite'].includes(a.engine)) usage('--engine must be redis, memory or sqlite');
  if (a['redis-signal'] !== 'SIGKILL' && a['redis-signal'] !== 'SIGTERM') usage('--redis-signal must be SIGKILL or SIGTERM');
  const o = {
    short,
    widgets: int(a.widgets, short ? 120 : 1000, '--widgets', 1),
    relays: int(a.relays, 3, '--relays', 1),
    messages: int(a.messages, short ? 4 : 10, '--messages', 1),
    workers: int(a.workers, short ? 2 : 4, '--workers', 1),
    backendDownMs: int(a['backend-down-ms'], short ? 4000 : 20_000, '--backend-down-ms', 0),
    seed: int(a.seed, 1, '--seed', 0),
    sendMs: int(a['send-ms'], short ? 12_000 : 45_000, '--send-ms', 3000),
    settleMs: int(a['settle-ms'], short ? 40_000 : 90_000, '--settle-ms', 0),
    relayDownMs: int(a['relay-down-ms'], 1000, '--relay-down-ms', 0),
    webhookBatch: int(a['webhook-batch'], 1, '--webhook-batch', 1),
    redisDownMs: int(a['redis-down-ms'], 1500, '--redis-down-ms', 0),
    redisSignal: a['redis-signal'],
    engine: a.engine,
    redisServer: a['redis-server'],
    timeoutMs: int(a['timeout-ms'], short ? 115_000 : 600_000, '--timeout-ms', 1000),
    save: a.save,
  };
  o.workers = Math.min(o.workers, o.widgets);
  return o;
}

function usage(problem) {
  console.error(`${problem}\n\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// A worker process: holds widgets [from, to), sends on command, answers status and report
// requests over IPC
// ---------------------------------------------------------------------------------------------

function worker() {
  const widgets = [];
  const timers = [];
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  let random = Math.random;
  // The parent is gone (killed, or exited): nothing here may outlive it.
  process.on('disconnect', () => process.exit(0));
  const reply = (id, data) => process.send({ t: 'reply', id, data });

  const status = ({ killAt, relay }) => {
    const s = { widgets: widgets.length, open: 0, pending: 0, sending: 0, failed: 0, acked: 0, repliesShown: 0, affected: 0, notBack: 0 };
    for (const w of widgets) {
      const snap = w.client.getSnapshot();
      if (snap.state === 'open') s.open++;
      s.acked += w.acked.size;
      for (const x of w.sent) if (!w.acked.has(x.id) && !w.failed.has(x.id)) s.pending++;
      s.failed += w.failed.size;
      const ids = new Set();
      for (const item of snap.timeline) {
        ids.add(item.id);
        if (item.kind === 'msg' && item.status === 'sending') s.sending++;
      }
      for (const id of w.acked.keys()) if (ids.has(`r-${id}`)) s.repliesShown++;
      if (killAt !== undefined) {
        const on = w.connections.some((c) => c.relay === relay && c.welcomeAt !== undefined && c.welcomeAt <= killAt && (c.closeAt === undefined || c.closeAt >= killAt));
        if (on) {
          s.affected++;
          if (!(w.lastWelcomeAt > killAt) || snap.state !== 'open') s.notBack++;
        }
      }
    }
    return s;
  };

  process.on('message', async (m) => {
    switch (m.t) {
      case 'init': {
        random = prng(m.seed);
        const R = m.relays.length;
        for (let i = m.from; i < m.to; i++) {
          // The first socket goes to the widget's own relay; every later one to another relay,
          // picked at random, as a load balancer without sticky sessions would.
          const pick = (prev) => (prev === undefined ? i % R : R === 1 ? 0 : (prev + 1 + Math.floor(random() * (R - 1))) % R);
          widgets.push(startWidget({ i, relays: m.relays, random, siteKey: m.siteKey, origin: m.origin, pick }));
          // Ramp up: a few sockets at a time, so the relays are not hit by every hello at once.
          if ((i - m.from) % 20 === 19) await sleep(20);
        }
        return reply(m.id, { started: widgets.length });
      }
      case 'status':
        return reply(m.id, status(m));
      case 'phase': {
        // Every widget sends k messages, numbered from `first`, one at a random moment of each
        // of k equal slots of the window, so a widget's order is its send order.
        for (const w of widgets) {
          for (let j = 0; j < m.k; j++) timers.push(setTimeout(() => w.send(m.first + j), m.startAt + ((j + random()) * m.windowMs) / m.k - Date.now()));
        }
        return reply(m.id, { scheduled: widgets.length * m.k });
      }
      case 'report': {
        const reports = widgets.map((w) => w.report());
        const loopDelay = { maxMs: Math.round(loop.max / 1e6), p99Ms: Math.round(loop.percentile(99) / 1e6) };
        return reply(m.id, { reports, loopDelay, cpu: process.cpuUsage() });
      }
      case 'stop':
        for (const t of timers) clearTimeout(t);
        for (const w of widgets) w.client.disconnect();
        return reply(m.id, { stopped: true });
    }
  });
  process.send({ t: 'ready' });
}

/** A worker process and a request/response channel to it. */
function startWorker(k) {
  const child = fork(SCRIPT, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  let nextId = 0;
  let gone;
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`worker ${k} exited while starting (${code ?? signal})`)));
    child.on('message', (m) => m.t === 'ready' && resolve());
  });
  child.on('message', (m) => {
    if (m.t !== 'reply') return;
    waiting.get(m.id)?.resolve(m.data);
    waiting.delete(m.id);
  });
  child.once('exit', (code, signal) => {
    gone = `${code ?? signal}`;
    for (const w of waiting.values()) w.reject(new Error(`worker ${k} exited (${gone})`));
    waiting.clear();
  });
  return {
    k,
    child,
    ready,
    get gone() {
      return gone;
    },
    ask(msg) {
      if (gone) return Promise.reject(new Error(`worker ${k} exited (${gone})`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ ...msg, id });
      });
    },
    killNow() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

/** CPU seconds (user + system) a process has used so far, from /proc; undefined when unknown. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return undefined;
  }
}

/** Samples the machine's CPU (all cores, /proc/stat) every `everyMs`; `busy(from, to)` is the busy share in between. */
function cpuSampler(everyMs = 200) {
  const samples = [];
  const read = () => {
    try {
      const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      const idle = f[3] + (f[4] ?? 0);
      const total = f.reduce((x, y) => x + y, 0);
      samples.push({ at: Date.now(), idle, total });
    } catch {
      // not Linux
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    busy(from, to) {
      const a = samples.findLast((x) => x.at <= from) ?? samples[0];
      const b = samples.find((x) => x.at >= to) ?? samples.at(-1);
      if (!a || !b || b.total === a.total) return undefined;
      return Math.round((100 * (b.total - a.total - (b.idle - a.idle))) / (b.total - a.total));
    },
    /** CPU seconds all processes of the machine used in between (USER_HZ 100). */
    busySeconds(from, to) {
      const a = samples.findLast((x) => x.at <= from) ?? samples[0];
      const b = samples.find((x) => x.at >= to) ?? samples.at(-1);
      return a && b ? (b.total - a.total - (b.idle - a.idle)) / 100 : undefined;
    },
  };
}

/**
 * Catch-up after the kill, per widget that had a welcomed socket on the killed relay at the
 * kill: the time from the kill until it has a new welcome to the same conversation and has
 * received every message of that conversation committed before the kill (by the engine's
 * timestamp). Infinity when it never caught up (or was moved to another conversation).
 */
function catchUps(reports, history, kill) {
  const times = [];
  const stuck = [];
  // Where the time goes: the socket seen closed, the next socket open, its welcome.
  const parts = { closed: [], created: [], reopened: [], welcomed: [] };
  for (const w of reports) {
    const conn = w.connections.find((c) => c.relay === kill.relay && c.welcomeAt !== undefined && c.welcomeAt <= kill.at && (c.closeAt == null || c.closeAt >= kill.at));
    if (!conn) continue;
    const after = w.connections.filter((c) => c.welcomeAt > kill.at);
    if (conn.closeAt != null) parts.closed.push(conn.closeAt - kill.at);
    const created = w.connections.filter((c) => c.createdAt > kill.at).map((c) => c.createdAt);
    if (created.length) parts.created.push(Math.min(...created) - kill.at);
    const reopened = w.connections.filter((c) => c.openAt > kill.at).map((c) => c.openAt);
    if (reopened.length) parts.reopened.push(Math.min(...reopened) - kill.at);
    let t = after.length ? Math.min(...after.map((c) => c.welcomeAt)) : Infinity;
    if (after.length) parts.welcomed.push(t - kill.at);
    let why = after.length ? 'missing messages' : 'no welcome after the kill';
    if (after.length && after.some((c) => c.conversationId !== conn.conversationId)) (t = Infinity), (why = 'moved to another conversation');
    const firstSeen = new Map(w.firstSeen);
    for (const e of history.get(conn.conversationId)?.entries ?? []) {
      if (e.kind !== 'msg' || e.ts > kill.at) continue;
      const seen = firstSeen.get(e.id);
      if (seen === undefined) t = Infinity;
      else if (seen > kill.at) t = Math.max(t, seen);
    }
    const ms = t - kill.at;
    times.push(ms);
    if (!Number.isFinite(ms)) stuck.push(`w${w.i} (${why})`);
  }
  const p = (list) => ({ p50Ms: percentile(list, 50), p99Ms: percentile(list, 99) });
  return {
    widgets: times.length,
    ...p(times),
    maxMs: percentile(times, 100),
    notCaughtUp: stuck.length,
    stuck: stuck.slice(0, 10),
    closed: p(parts.closed),
    created: p(parts.created),
    reopened: p(parts.reopened),
    welcomed: p(parts.welcomed),
  };
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

async function main() {
  const o = options();
  const random = prng(o.seed);
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'parley-chaos-'));
  const R = o.relays;
  const relays = [];
  const workers = [];
  let redis;
  let backend;
  let phase = 'starting';
  const parentLoop = monitorEventLoopDelay({ resolution: 20 });
  parentLoop.enable();
  const machine = cpuSampler();

  cleanUpOnExit('chaos', dir, () => {
    for (const w of workers) w.killNow();
    for (const r of relays) r.killNow();
    redis?.killNow();
  }, 'stopping every child and leaving.');

  const watchdog = setTimeout(() => {
    console.error(`chaos: the run took more than ${o.timeoutMs} ms (while ${phase}); stopping.`);
    for (const r of relays) if (r.log.tail.length) console.error(`${r.name}:\n  ${r.log.tail.slice(-5).join('\n  ')}`);
    process.exit(2);
  }, o.timeoutMs);
  watchdog.unref();

  // ---- redis-server, the backend, the relays ----
  const redisPort = await freePort(HOST);
  redis = redisProcess({ bin: o.redisServer, host: HOST, port: redisPort, dir });
  await redis.start();
  const ports = [];
  for (let k = 0; k < R; k++) ports.push(await freePort(HOST));
  const bases = ports.map((p) => `http://${HOST}:${p}`);
  const restByRelay = new Map();
  backend = await startBackend({
    host: HOST,
    webhookSecret: WEBHOOK_SECRET,
    apiSecret: API_SECRET,
    // Each REST attempt goes to a random relay, the dead one included.
    relayBase: () => {
      const k = Math.floor(random() * R);
      count(restByRelay, k);
      return bases[k];
    },
  });
  const prefix = `chaos:${randomBytes(4).toString('hex')}:`;
  const engine =
    o.engine === 'redis'
      ? { type: 'redis', url: `redis://${HOST}:${redisPort}`, prefix }
      : o.engine === 'sqlite'
        ? { type: 'sqlite', path: join(dir, 'relay.db'), synchronous: 'FULL' }
        : { type: 'memory' };
  for (let k = 0; k < R; k++) {
    const configFile = join(dir, `relay-${k}.json`);
    const config = relayConfig({
      comment: `written by scripts/chaos.mjs: relay ${k} of ${R}`,
      host: HOST,
      port: ports[k],
      tokenSecret: 'chaos-test-token-secret-0123456789abcdef',
      engine,
      widgets: o.widgets,
      // Retries go on well past the run: nothing may dead-letter.
      retrySpanMs: Math.max(600_000, o.timeoutMs),
      site: {
        siteKey: SITE_KEY,
        name: 'Chaos Test Shop',
        allowedOrigins: [ORIGIN],
        webhookUrl: backend.url,
        webhookSecret: WEBHOOK_SECRET,
        apiSecret: API_SECRET,
        greeting: { text: 'Hi! Anything here may crash.' },
        webhookBatch: o.webhookBatch,
      },
    });
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    relays.push(relayProcess({ cli: CLI, cwd: ROOT, configFile, base: bases[k], name: `relay ${k}` }));
  }
  await Promise.all(relays.map((r) => r.start()));
  const relayCpu = new Array(R).fill(0); // CPU of relay processes already killed
  let redisCpu = 0;

  // ---- the widgets, in worker processes ----
  phase = 'opening widgets';
  for (let k = 0; k < o.workers; k++) workers.push(startWorker(k));
  await Promise.all(workers.map((w) => w.ready));
  const per = Math.ceil(o.widgets / o.workers);
  await Promise.all(
    workers.map((w, k) =>
      w.ask({ t: 'init', from: k * per, to: Math.min(o.widgets, (k + 1) * per), relays: bases, seed: o.seed * 1000 + k + 1, siteKey: SITE_KEY, origin: ORIGIN }),
    ),
  );
  const status = async (q = {}) => {
    const all = await Promise.all(workers.map((w) => w.ask({ t: 'status', ...q })));
    const s = {};
    for (const x of all) for (const [key, v] of Object.entries(x)) s[key] = (s[key] ?? 0) + v;
    return s;
  };
  const openDeadline = Date.now() + 60_000;
  for (let s = await status(); s.open < o.widgets; s = await status()) {
    if (Date.now() > openDeadline) throw new Error(`widgets not open after 60 s: ${o.widgets - s.open} of ${o.widgets}`);
    await sleep(100);
  }
  const openMs = Date.now() - started;

  // ---- the run: three sending phases of sendMs/3 ----
  // Near the end of phase 1 one relay is killed (SIGKILL) and restarted after relayDownMs;
  // phase 2 starts once every widget that was on it is back. In phase 2 the backend goes down
  // (503, then connection refused) for backendDownMs, and redis-server is killed and restarted
  // from its AOF; phase 3 starts once every relay is ready again.
  phase = 'sending';
  const t0 = Date.now();
  const W = o.sendMs / 3;
  const shares = [Math.ceil(o.messages / 3)];
  shares.push(Math.ceil((o.messages - shares[0]) / 2));
  shares.push(o.messages - shares[0] - shares[1]);
  let nextN = 1;
  const sendPhase = async (k, startAt) => {
    const first = nextN;
    nextN += k;
    if (k > 0) await Promise.all(workers.map((w) => w.ask({ t: 'phase', first, k, startAt, windowMs: W })));
  };
  const loops = new Array(R).fill(undefined).map(() => []);

  // Phase 1, and the relay kill.
  await sendPhase(shares[0], t0);
  const kill = { relay: Math.floor(random() * R), at: 0 };
  await sleep(t0 + W * (0.6 + 0.2 * random()) - Date.now());
  const victim = relays[kill.relay];
  loops[kill.relay].push(await eventLoopDelay(bases[kill.relay]));
  relayCpu[kill.relay] += cpuSeconds(victim.pid) ?? 0;
  kill.at = Date.now();
  kill.killed = await victim.kill('SIGKILL');
  const restart = (async () => {
    await sleep(o.relayDownMs);
    await victim.start();
    kill.restartedMs = Date.now() - kill.at;
  })();
  // Its widgets come back on the other relays meanwhile.
  const backDeadline = Date.now() + 30_000;
  let s = await status({ killAt: kill.at, relay: kill.relay });
  while (s.notBack > 0 && Date.now() < backDeadline) {
    await sleep(50);
    s = await status({ killAt: kill.at, relay: kill.relay });
  }
  Object.assign(kill, { onIt: s.affected, notBack: s.notBack, allBackMs: Date.now() - kill.at });
  await restart;

  // Phase 2: the backend outage and the redis restart.
  const p2 = Math.max(t0 + W, Date.now());
  await sendPhase(shares[1], p2);
  const outage = { startAt: p2 + W * 0.2, ms503: 0, msClosed: 0 };
  const backendOutage = (async () => {
    await sleep(outage.startAt - Date.now());
    const a = Date.now();
    await backend.setMode('503');
    await sleep(o.backendDownMs / 2);
    const b = Date.now();
    await backend.setMode('closed');
    await sleep(a + o.backendDownMs - Date.now());
    await backend.setMode('up');
    Object.assign(outage, { ms503: b - a, msClosed: Date.now() - b, endAt: Date.now() });
  })();
  const redisRestart = { signal: o.redisSignal };
  await sleep(p2 + W * 0.5 - Date.now());
  redisCpu += cpuSeconds(redis.pid) ?? 0;
  redisRestart.at = Date.now();
  redisRestart.killed = await redis.kill(o.redisSignal);
  await sleep(o.redisDownMs);
  await redis.start(30_000);
  redisRestart.upMs = Date.now() - redisRestart.at;
  // Each relay's engine reconnects by itself; /readyz says when.
  const readyDeadline = Date.now() + 30_000;
  const readyAt = new Array(R).fill(undefined);
  while (readyAt.includes(undefined) && Date.now() < readyDeadline) {
    await Promise.all(bases.map(async (b, k) => readyAt[k] === undefined && (await isReady(b)) && (readyAt[k] = Date.now() - redisRestart.at)));
    if (readyAt.includes(undefined)) await sleep(50);
  }
  redisRestart.relaysReadyMs = Date.now() - redisRestart.at;
  redisRestart.relaysReadyEachMs = readyAt;
  redisRestart.relaysReady = !readyAt.includes(undefined);

  // Phase 3.
  const p3 = Math.max(p2 + W, Date.now());
  await sendPhase(shares[2], p3);
  await sleep(p3 + W - Date.now() + 50);
  await backendOutage;
  const sendEnd = Date.now();

  // ---- settle: every outbox empty, every acked message's webhook in, every reply on its screen ----
  phase = 'settling';
  const delivered = () => new Set(backend.events.filter((e) => e.type === 'message.created').map((e) => e.messageId)).size;
  const settled = (x) => x.pending === 0 && x.sending === 0 && x.repliesShown === x.acked && delivered() >= x.acked && backend.pendingReplies() === 0;
  const settleDeadline = Date.now() + o.settleMs;
  let last = await status();
  while (!settled(last) && Date.now() < settleDeadline) {
    await sleep(250);
    last = await status();
  }
  const settleMs = Date.now() - sendEnd;
  const timedOut = !settled(last);

  // ---- collect ----
  phase = 'collecting';
  for (let k = 0; k < R; k++) loops[k].push(await eventLoopDelay(bases[k]));
  const cpu = { relays: relays.map((r, k) => +(relayCpu[k] + (cpuSeconds(r.pid) ?? 0)).toFixed(1)), redis: +(redisCpu + (cpuSeconds(redis.pid) ?? 0)).toFixed(1), workers: [], parent: 0 };
  const collected = await Promise.all(workers.map((w) => w.ask({ t: 'report' })));
  const reports = collected.flatMap((c) => c.reports);
  cpu.workers = collected.map((c) => +((c.cpu.user + c.cpu.system) / 1e6).toFixed(1));
  await Promise.all(workers.map((w) => w.ask({ t: 'stop' })));
  const conversationIds = new Set();
  for (const w of reports) {
    for (const c of w.conversations) conversationIds.add(c);
    for (const [, a] of w.acked) if (a.conversationId) conversationIds.add(a.conversationId);
  }
  for (const e of backend.events) conversationIds.add(e.conversationId);
  // Each conversation is read through a random relay: any of them must tell the whole story.
  const history = await readHistories({ ids: conversationIds, baseFor: () => bases[Math.floor(random() * R)], apiSecret: API_SECRET });

  // ---- checks ----
  const v = verdict({ widgets: reports, history, backend });
  const catchUp = catchUps(reports, history, kill);
  const framesByRelay = new Array(R).fill(0);
  const socketsByRelay = new Array(R).fill(0);
  let switched = 0;
  for (const w of reports) {
    for (const [k, n] of w.framesByRelay) framesByRelay[k] += n;
    for (const c of w.connections) socketsByRelay[c.relay]++;
    if (new Set(w.connections.filter((c) => c.welcomeAt !== undefined).map((c) => c.relay)).size > 1) switched++;
  }
  const parentCpu = process.cpuUsage();
  cpu.parent = +((parentCpu.user + parentCpu.system) / 1e6).toFixed(1);
  // What else ran on the machine meanwhile (other users' processes): machine total minus ours.
  const ours = cpu.relays.reduce((x, y) => x + y, 0) + cpu.redis + cpu.workers.reduce((x, y) => x + y, 0) + cpu.parent;
  const all = machine.busySeconds(started, Date.now());
  cpu.others = all === undefined ? undefined : +Math.max(0, all - ours).toFixed(1);
  const r = {
    widgets: o.widgets,
    relays: R,
    workers: o.workers,
    messagesPerWidget: o.messages,
    seed: o.seed,
    engine: o.engine,
    webhookBatch: o.webhookBatch,
    short: o.short,
    kill: { relay: kill.relay, killed: kill.killed, atMs: kill.at - t0, onIt: kill.onIt, notBack: kill.notBack, restartedMs: kill.restartedMs, allBackMs: kill.allBackMs },
    redisRestart: { signal: redisRestart.signal, killed: redisRestart.killed, atMs: redisRestart.at - t0, upMs: redisRestart.upMs, relaysReadyMs: redisRestart.relaysReadyMs, relaysReadyEachMs: redisRestart.relaysReadyEachMs, relaysReady: redisRestart.relaysReady },
    backendDown: { atMs: outage.startAt - t0, ms503: outage.ms503, msClosed: outage.msClosed },
    catchUp,
    ...v,
    widgetsOnAnotherRelay: switched,
    framesByRelay,
    socketsByRelay,
    restAttemptsByRelay: Array.from({ length: R }, (_, k) => restByRelay.get(k) ?? 0),
    relayLogs: relays.map((rl) => ({
      warn: rl.log.warn,
      error: rl.log.error,
      unexpectedExits: rl.log.unexpectedExits,
      messages: Object.fromEntries([...rl.log.messages].sort((a, b) => b[1] - a[1]).slice(0, 6)),
    })),
    redisLog: { warn: redis.log.warn, unexpectedExits: redis.log.unexpectedExits },
    eventLoop: { relays: loops, workers: collected.map((c) => c.loopDelay), parent: { maxMs: Math.round(parentLoop.max / 1e6), p99Ms: Math.round(parentLoop.percentile(99) / 1e6) } },
    cpu,
    machineBusy: { cores: availableParallelism(), sending: machine.busy(t0, sendEnd), afterKill: machine.busy(kill.at, kill.at + 3000), settling: machine.busy(sendEnd, sendEnd + settleMs) },
    timings: { openMs, sendMs: o.sendMs, settleMs },
    timedOut,
    runMs: 0,
  };

  // ---- stop everything (the watchdog still runs) ----
  await backend.stop();
  await Promise.all(relays.map((rl) => rl.kill()));
  await redis.kill();
  r.runMs = Date.now() - started;

  const failures = [];
  if (r.lost.total) failures.push('loss');
  if (r.duplicatedOnScreen || r.duplicatedInHistory || r.replies.shownTwice) failures.push('duplicates');
  if (r.reordered.total) failures.push('reordering');
  if (!r.kill.killed) failures.push('no relay was killed');
  if (!r.redisRestart.killed) failures.push('redis-server was not restarted');
  if (!r.redisRestart.relaysReady) failures.push('the relays were not ready again after the redis restart');
  if (catchUp.notCaughtUp) failures.push(`${catchUp.notCaughtUp} widgets never caught up after the kill`);
  if (r.webhooks.invalidSignature) failures.push('webhooks that failed verification');
  if (r.invalidFrames) failures.push('frames off the protocol');
  if (r.relayLogs.some((l) => l.unexpectedExits.length)) failures.push('a relay exited on its own');
  if (r.redisLog.unexpectedExits.length) failures.push('redis-server exited on its own');
  r.pass = failures.length === 0;
  print(r, failures);
  if (o.save) {
    const about = { date: new Date().toISOString(), node: process.version, platform: `${process.platform}-${process.arch}`, cores: availableParallelism(), failures };
    writeFileSync(o.save, `${JSON.stringify({ ...about, ...r }, (_k, val) => (val === Infinity ? 'Infinity' : val), 1)}\n`);
  }
  return r.pass ? 0 : 1;
}

function print(r, failures) {
  const kv = (o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  const ms = (x) => (x === undefined ? 'n/a' : Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : 'never');
  const loop = (l) => (l ? `max ${l.maxMs} ms (p99 ${l.p99Ms} ms)` : 'unknown');
  const c = r.catchUp;
  const lines = [
    `chaos: ${r.widgets} widgets × ${r.messagesPerWidget} messages, ${r.relays} relays on engine ${r.engine}${r.engine === 'redis' ? ' (one redis-server, AOF fsync always)' : ''}, ${r.workers} worker processes, seed ${r.seed}${r.short ? ' (short run)' : ''}`,
    `relay killed (SIGKILL): relay ${r.kill.relay} at ${secs(r.kill.atMs)} with ${r.kill.onIt} widgets on it, ready again ${secs(r.kill.restartedMs)} after the kill; its widgets all back on a relay ${secs(r.kill.allBackMs)} after the kill${r.kill.notBack ? ` (${r.kill.notBack} NOT back)` : ''}`,
    `redis restarted (${r.redisRestart.signal}): ${r.redisRestart.killed ? 'yes' : 'NO'}, at ${secs(r.redisRestart.atMs)}, answering again ${secs(r.redisRestart.upMs)} later, every relay ready ${secs(r.redisRestart.relaysReadyMs)} after the kill (${r.redisRestart.relaysReadyEachMs.map((x) => (x === undefined ? 'never' : secs(x))).join(' / ')})${r.redisRestart.relaysReady ? '' : ' (NOT ALL READY)'}`,
    `backend down: 503 for ${secs(r.backendDown.ms503)}, closed for ${secs(r.backendDown.msClosed)} from ${secs(r.backendDown.atMs)}; deliveries refused ${r.webhooks.refusedWhileDown}`,
    `catch-up after the kill (a new welcome and every message committed before the kill), ${c.widgets} widgets: p50 ${ms(c.p50Ms)}, p99 ${ms(c.p99Ms)}, max ${ms(c.maxMs)}${c.notCaughtUp ? `; NEVER CAUGHT UP: ${c.notCaughtUp} (${c.stuck.join(', ')})` : ''}`,
    `  of which (p50 / p99 after the kill): socket seen closed ${ms(c.closed.p50Ms)} / ${ms(c.closed.p99Ms)}, next socket created ${ms(c.created.p50Ms)} / ${ms(c.created.p99Ms)}, open ${ms(c.reopened.p50Ms)} / ${ms(c.reopened.p99Ms)}, welcome ${ms(c.welcomed.p50Ms)} / ${ms(c.welcomed.p99Ms)}`,
    `messages: sent ${r.sent}, acked ${r.acked}; bot replies expected ${r.replies.expected}, posted ${r.replies.posted}, shown ${r.replies.shown}, shown twice ${r.replies.shownTwice}`,
    `visitor → backend (visitor messages stored once in send order, message.created delivered in seq order):`,
    ...directionLines(r, 'toBackend').map((l) => `  ${l}`),
    `backend → visitor (bot replies stored once, shown once, in posting and seq order):`,
    ...directionLines(r, 'toVisitor').map((l) => `  ${l}`),
    `webhooks: received ${r.webhooks.received} (unique ${r.webhooks.unique}; ${kv(r.webhooks.byType) || 'none'}), invalid signature ${r.webhooks.invalidSignature}; ${r.webhooks.requests} requests, ${r.webhooks.batches} of them batches (webhookBatch ${r.webhookBatch}, largest ${r.webhooks.largestBatch})`,
    `REST replies: attempts ${r.replies.restAttempts} (per relay ${r.restAttemptsByRelay.join(' / ')})${Object.keys(r.replies.restFailures).length ? `, failed: ${kv(r.replies.restFailures)}` : ''}, conflicts ${r.replies.conflicts}`,
    `reconnects: ${r.reconnects} (sockets opened ${r.socketsOpened}, per relay ${r.socketsByRelay.join(' / ')}; widgets welcomed by more than one relay ${r.widgetsOnAnotherRelay}; conversation changes ${r.conversationChanges}, resets ${r.resets}, invalid frames ${r.invalidFrames}); client errors: ${kv(r.clientErrors) || 'none'}`,
    `frames received per relay: ${r.framesByRelay.map((n, k) => `relay ${k} ${n}`).join(', ')}`,
    `event loop delay: relays ${r.eventLoop.relays.map((ls, k) => `${k}: ${ls.map(loop).join(' then ')}`).join('; ')}; workers ${r.eventLoop.workers.map(loop).join(', ')}; parent ${loop(r.eventLoop.parent)}`,
    `CPU seconds: relays ${r.cpu.relays.join(' / ')}, redis ${r.cpu.redis}, workers ${r.cpu.workers.join(' / ')}, parent (backend) ${r.cpu.parent}, other processes on the machine ${r.cpu.others ?? '?'}; machine (${r.machineBusy.cores} cores) busy ${r.machineBusy.sending ?? '?'}% while sending, ${r.machineBusy.afterKill ?? '?'}% in the 3 s after the kill, ${r.machineBusy.settling ?? '?'}% while settling`,
    ...r.relayLogs.flatMap((l, k) => [
      `relay ${k} log: ${l.warn} warnings, ${l.error} errors${l.unexpectedExits.length ? `; EXITED ON ITS OWN: ${l.unexpectedExits.join('; ')}` : ''}`,
      ...Object.entries(l.messages).map(([m, n]) => `  ${n}× ${m}`),
    ]),
    ...(r.redisLog.unexpectedExits.length ? [`redis-server EXITED ON ITS OWN: ${r.redisLog.unexpectedExits.join('; ')}`] : []),
    `timings: widgets open ${secs(r.timings.openMs)} after the start; sending ${secs(r.timings.sendMs)}; settled in ${secs(r.timings.settleMs)} after the last send${r.timedOut ? ' (DEADLINE PASSED: not everything arrived)' : ''}`,
    `run time: ${secs(r.runMs)}`,
    ...(r.examples.length ? ['examples:', ...r.examples.map((e) => `  ${e}`)] : []),
    r.pass ? 'RESULT: PASS' : `RESULT: FAIL (${failures.join('; ')})`,
  ];
  console.log(lines.join('\n'));
  console.log(`CHAOS_SUMMARY ${JSON.stringify(r, (_k, val) => (val === Infinity ? 'Infinity' : val))}`);
}

if (process.argv.includes('--worker')) worker();
else {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`chaos: the run broke: ${err?.stack ?? err}`);
      process.exit(2);
    },
  );
}
