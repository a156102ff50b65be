#!/usr/bin/env node
// `npm run crash`: the relay's guarantees proven by killing it. The built relay CLI runs in a
// child process on a SQLite file; 50 widgets (the real @parley/client over `ws`, each with its
// own in-memory storage, as a browser profile keeps its token, outbox and lastSeq) and a
// recording merchant backend run in this process. Mid-stream the relay is killed with SIGKILL
// twice and restarted on the same port and database, and the backend is down for a while. At
// the end it counts what was lost, duplicated and reordered, in both directions, prints a
// summary (and one `CRASH_SUMMARY {json}` line) and exits 1 on any loss, on-screen duplicate
// or reordering, 2 when the run itself broke. Build first: npx tsc -b.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createClient } from '@parley/client';
import { verifyWebhook } from '@parley/backend';
import { decodeServerFrame } from '@parley/protocol';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(ROOT, 'packages/relay/dist/cli.js');
const HOST = '127.0.0.1';
const ORIGIN = 'https://shop.example';
const SITE_KEY = 'pk_crash';
const API_SECRET = 'crash_api_secret_0123456789';
const WEBHOOK_SECRET = 'whsec_' + Buffer.from('crash-test-webhook-secret-32byte').toString('base64');

const USAGE = `node scripts/crash-test.mjs [--widgets N] [--messages M] [--seed S] [options]

Kills the relay (SIGKILL) twice while N widgets each send M messages, takes the merchant
backend down for a while, then counts lost, duplicated and reordered messages and events.
Exit 0 when nothing was lost, shown twice or reordered; 1 otherwise; 2 when the run broke.

  --widgets N      simulated widgets (default 50)
  --messages M     messages per widget (default 20)
  --seed S         seed of the pacing, kill times and backoff jitter (default 1)
  --send-ms T      how long the widgets keep sending (default max(6000, 600·M))
  --settle-ms T    how long to wait at the end for outboxes, webhooks and replies (default 30000)
  --down-ms T      how long the relay stays dead before each restart (default 500)
  --engine E       sqlite (default) or memory (loses everything on a kill: the run must fail)
  --synchronous S  FULL (default) or NORMAL, for the sqlite engine
  --timeout-ms T   hard stop for the whole run (default 110000)
Build first: npx tsc -b`;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

function options() {
  const { values: a } = parseArgs({
    options: {
      widgets: { type: 'string', default: '50' },
      messages: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      'send-ms': { type: 'string' },
      'settle-ms': { type: 'string', default: '30000' },
      'down-ms': { type: 'string', default: '500' },
      engine: { type: 'string', default: 'sqlite' },
      synchronous: { type: 'string', default: 'FULL' },
      'timeout-ms': { type: 'string', default: '110000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (a.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (v, name, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`${name} must be an integer ≥ ${min}`);
    return n;
  };
  if (a.engine !== 'sqlite' && a.engine !== 'memory') usage('--engine must be sqlite or memory');
  if (a.synchronous !== 'FULL' && a.synchronous !== 'NORMAL') usage('--synchronous must be FULL or NORMAL');
  const messages = int(a.messages, '--messages', 1);
  return {
    widgets: int(a.widgets, '--widgets', 1),
    messages,
    seed: int(a.seed, '--seed', 0),
    sendMs: a['send-ms'] === undefined ? Math.max(6000, 600 * messages) : int(a['send-ms'], '--send-ms', 1000),
    settleMs: int(a['settle-ms'], '--settle-ms', 0),
    downMs: int(a['down-ms'], '--down-ms', 0),
    engine: a.engine,
    synchronous: a.synchronous,
    timeoutMs: int(a['timeout-ms'], '--timeout-ms', 1000),
  };
}

function usage(problem) {
  console.error(`${problem}\n\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** mulberry32: a seeded PRNG in [0, 1), so a seed replays the same pacing and kill times. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** A port nothing listens on right now; the relay keeps it across its restarts. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A Storage stand-in over a Map: one per widget, as one browser profile's localStorage. */
function memoryStorage() {
  const map = new Map();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, String(v)), removeItem: (k) => void map.delete(k) };
}

const count = (map, key, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

// ---------------------------------------------------------------------------------------------
// The relay child process
// ---------------------------------------------------------------------------------------------

function relayConfig(o, port, webhookUrl, dir) {
  // Fast retries, and enough of them that nothing dead-letters during the run.
  const retryScheduleMs = [100, 200, 400, 800, ...Array(200).fill(1000)];
  return {
    $comment: 'written by scripts/crash-test.mjs',
    host: HOST,
    port,
    tokenSecret: 'crash-test-token-secret-0123456789abcdef',
    logLevel: 'warn',
    engine: o.engine === 'sqlite' ? { type: 'sqlite', path: join(dir, 'relay.db'), synchronous: o.synchronous } : { type: 'memory' },
    limits: {
      // Every widget connects from 127.0.0.1, and a reconnect flushes a whole outbox at once.
      maxConnectionsPerIp: Math.max(1000, o.widgets * 4),
      newVisitorsPerIpPerMinute: Math.max(10_000, o.widgets * 4),
      rateLimit: { perSecond: 1000, burst: 1000 },
      restRateLimit: { perSecond: 100_000, burst: 100_000 },
    },
    webhooks: { timeoutMs: 3000, retryScheduleMs },
    sites: [
      {
        siteKey: SITE_KEY,
        name: 'Crash Test Shop',
        allowedOrigins: [ORIGIN],
        webhookUrl,
        webhookSecret: WEBHOOK_SECRET,
        apiSecret: API_SECRET,
        greeting: { text: 'Hi! This relay gets killed twice.' },
      },
    ],
  };
}

/** The relay CLI as a child process, in its own process group; killed, restarted, and always stopped on exit. */
function relayProcess(configFile, base) {
  const env = { ...process.env };
  // The config file says everything; env variables would win over it.
  for (const k of ['PORT', 'HOST', 'PARLEY_DATA', 'PARLEY_CONFIG', 'PARLEY_ASSETS']) delete env[k];
  const log = { warn: 0, error: 0, messages: new Map(), tail: [], unexpectedExits: [] };
  let child;
  let exited;
  let killing = false;
  const onLine = (line) => {
    if (!line.trim()) return;
    let level = 60;
    let msg = line;
    try {
      const j = JSON.parse(line);
      level = j.level ?? 30;
      msg = j.msg ?? line;
      if (j.err?.message) msg += `: ${j.err.message}`;
      if (j.code) msg += ` (${j.code})`;
    } catch {
      // not pino: a crash trace or a console.error
    }
    if (level >= 50) log.error++;
    else if (level >= 40) log.warn++;
    count(log.messages, `${level >= 50 ? 'error' : level >= 40 ? 'warn' : 'info'}: ${String(msg).slice(0, 160)}`);
    log.tail.push(line.slice(0, 400));
    if (log.tail.length > 40) log.tail.shift();
  };
  const reader = () => {
    let buf = '';
    return (chunk) => {
      buf += chunk.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
  };
  return {
    log,
    get pid() {
      return child?.pid;
    },
    async start(timeoutMs = 20_000) {
      child = spawn(process.execPath, [CLI, '--config', configFile], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const c = child;
      c.stdout.on('data', reader());
      c.stderr.on('data', reader());
      exited = new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
      // A relay that dies on its own (not killed here) is a finding: it is reported, and fails the run.
      void exited.then(({ code, signal }) => {
        if (!killing && c === child) log.unexpectedExits.push(`${code ?? signal}: ${log.tail.slice(-5).join(' | ')}`);
      });
      let gone;
      void exited.then((e) => (gone = e));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (gone) throw new Error(`the relay exited while starting (${gone.code ?? gone.signal}):\n${log.tail.join('\n')}`);
        const ok = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`the relay did not become ready in ${timeoutMs} ms:\n${log.tail.join('\n')}`);
        await sleep(25);
      }
    },
    /** kill -9 the whole process group and wait for the exit; false when it was not running. */
    async kill() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return false;
      killing = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
      killing = false;
      return true;
    },
    /** Synchronous, for exit handlers. */
    killNow() {
      if (child?.pid === undefined) return;
      killing = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The merchant backend: verifies and records every webhook, answers visitors by REST
// ---------------------------------------------------------------------------------------------

async function startBackend(relayBase) {
  /** Every verified delivery in arrival order. */
  const events = [];
  const deliveries = new Map(); // webhook-id → deliveries
  const replies = new Map(); // visitor message id → { state: 'pending'|'posted'|'conflict', duplicate }
  const stats = { refused: 0, invalid: 0, restAttempts: 0, restFailures: new Map(), restDuplicates: 0, conflicts: 0 };
  let mode = 'up';
  let stopped = false;
  let port;

  const server = createServer((req, res) => {
    if (mode !== 'up') {
      stats.refused++;
      req.resume();
      res.writeHead(503, { connection: 'close' }).end();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const r = await verifyWebhook(WEBHOOK_SECRET, req.headers, raw);
      if (!r.ok) {
        stats.invalid++;
        res.writeHead(r.status).end();
        return;
      }
      const e = r.event;
      const webhookId = String(req.headers['webhook-id']);
      if (webhookId !== e.id) stats.invalid++; // the docs promise webhook-id === event.id
      const m = e.data && 'message' in e.data ? e.data.message : undefined;
      events.push({ webhookId, eventId: e.id, type: e.type, conversationId: e.conversationId, messageId: m?.id, seq: m?.seq, text: m?.body?.type === 'text' ? m.body.text : undefined, at: Date.now() });
      count(deliveries, webhookId);
      res.writeHead(204).end();
      if (e.type === 'message.created' && m?.body.type === 'text' && !replies.has(m.id)) void reply(e.conversationId, m);
    });
  });

  /** Answer a visitor message by REST; the relay may be down, and the id makes retries safe. */
  async function reply(conversationId, m) {
    const state = { state: 'pending', duplicate: false };
    replies.set(m.id, state);
    const body = JSON.stringify({ id: `r-${m.id}`, from: { role: 'bot' }, body: { type: 'text', text: `reply to ${m.body.text}` } });
    for (let attempt = 0; !stopped; attempt++) {
      stats.restAttempts++;
      try {
        const res = await fetch(`${relayBase}/v1/conversations/${encodeURIComponent(conversationId)}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_SECRET}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(3000),
        });
        const json = await res.json().catch(() => undefined);
        if (res.ok) {
          state.state = 'posted';
          state.duplicate = json?.duplicate === true;
          if (state.duplicate) stats.restDuplicates++;
          return;
        }
        if (res.status === 409) {
          state.state = 'conflict';
          stats.conflicts++;
          return;
        }
        count(stats.restFailures, `HTTP ${res.status}${json?.error?.code ? ` ${json.error.code}` : ''}`);
      } catch (err) {
        count(stats.restFailures, err?.cause?.code ?? err?.name ?? 'error');
      }
      await sleep(Math.min(1000, 100 * 2 ** attempt));
    }
  }

  const listen = () => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, HOST, () => {
      server.off('error', reject);
      port = server.address().port;
      resolve();
    });
  });
  const close = () =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  await listen();
  return {
    url: `http://${HOST}:${port}/webhooks/parley`,
    events,
    deliveries,
    replies,
    stats,
    /** 'up', '503' (answers 503 to everything) or 'closed' (nothing listens: connection refused). */
    async setMode(next) {
      if (next === mode) return;
      if (mode === 'closed') await listen();
      if (next === 'closed') await close();
      mode = next;
    },
    pendingReplies: () => [...replies.values()].filter((r) => r.state === 'pending').length,
    stop() {
      stopped = true;
      return close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A widget: the real client, with its socket frames counted on the wire
// ---------------------------------------------------------------------------------------------

function startWidget(i, relayBase, random) {
  const w = {
    i,
    /** In send order: { id, n, text }. */
    sent: [],
    sentById: new Map(),
    /** id → { seq, conversationId } as the client reported it sent. */
    acked: new Map(),
    failed: new Set(),
    conversationId: undefined,
    conversations: new Set(),
    sockets: 0,
    welcomes: 0,
    resets: 0,
    msgFrames: new Map(), // msg id → frames received, over every socket
    badFrames: 0,
    errors: new Map(),
    client: undefined,
  };
  w.client = createClient({
    siteKey: SITE_KEY,
    relayUrl: relayBase,
    storage: memoryStorage(),
    random,
    // Shorter than a browser's 500 ms – 20 s so the run stays short; the state machine is the same.
    backoff: { minMs: 200, maxMs: 2000 },
    page: () => ({ url: `https://shop.example/products/${i}`, title: `Product ${i}` }),
    createSocket: (url) => {
      w.sockets++;
      const ws = new WebSocket(url, { origin: ORIGIN });
      // Added before the client's onmessage, so it sees every frame first.
      ws.on('message', (data) => {
        const d = decodeServerFrame(data.toString());
        if (!d.ok) return void w.badFrames++;
        const f = d.frame;
        if (f.t === 'welcome') {
          w.welcomes++;
          if (f.reset) w.resets++;
          w.conversationId = f.conversationId;
          w.conversations.add(f.conversationId);
        } else if (f.t === 'msg') count(w.msgFrames, f.id);
      });
      ws.on('error', () => {});
      return ws;
    },
  });
  w.client.on('message', (m) => {
    if (m.from.role !== 'visitor' || !w.sentById.has(m.id)) return;
    if (m.seq !== undefined && (m.status === 'sent' || m.status === 'read') && !w.acked.has(m.id)) {
      w.acked.set(m.id, { seq: m.seq, conversationId: w.conversationId });
    }
    if (m.status === 'failed') w.failed.add(m.id);
  });
  w.client.on('error', (e) => count(w.errors, e.code));
  w.send = (n) => {
    const text = `w${i}-${n}`;
    const m = w.client.send(text);
    const rec = { id: m.id, n, text };
    w.sent.push(rec);
    w.sentById.set(m.id, rec);
  };
  w.client.connect();
  return w;
}

/** The relay's event loop delay since it started (prom-client's default metrics; a scrape resets them, so read once per process). */
async function eventLoopDelay(base) {
  try {
    const text = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) }).then((res) => res.text());
    const value = (name) => Number(new RegExp(`^\\w*${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1]);
    const ms = (v) => Math.round(v * 1000);
    const max = value('nodejs_eventloop_lag_max_seconds');
    return Number.isFinite(max) ? { maxMs: ms(max), p99Ms: ms(value('nodejs_eventloop_lag_p99_seconds')) } : undefined;
  } catch {
    return undefined;
  }
}

const textOf = (item) => (item.kind === 'msg' && item.body.type === 'text' ? item.body.text : undefined);

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

async function main() {
  const o = options();
  const random = prng(o.seed);
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
  const port = await freePort();
  const base = `http://${HOST}:${port}`;
  const widgets = [];
  let backend;
  let relay;

  const cleanup = () => {
    relay?.killNow();
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      console.error(`crash-test: ${signal}; stopping the relay and leaving.`);
      process.exit(2);
    });
  }
  for (const event of ['uncaughtException', 'unhandledRejection']) {
    process.on(event, (err) => {
      console.error(`crash-test: the run broke: ${err?.stack ?? err}`);
      process.exit(2);
    });
  }
  const watchdog = setTimeout(() => {
    console.error(`crash-test: the run took more than ${o.timeoutMs} ms; stopping.`);
    if (relay) console.error(relay.log.tail.slice(-10).join('\n'));
    process.exit(2);
  }, o.timeoutMs);
  watchdog.unref();

  backend = await startBackend(base);
  const configFile = join(dir, 'relay.json');
  writeFileSync(configFile, JSON.stringify(relayConfig(o, port, backend.url, dir), null, 2));
  relay = relayProcess(configFile, base);
  await relay.start();

  // Every widget opens before the first message.
  for (let i = 0; i < o.widgets; i++) widgets.push(startWidget(i, base, random));
  const openDeadline = Date.now() + 20_000;
  while (widgets.some((w) => w.client.getSnapshot().state !== 'open')) {
    if (Date.now() > openDeadline) throw new Error(`widgets not open after 20 s: ${widgets.filter((w) => w.client.getSnapshot().state !== 'open').length}`);
    await sleep(20);
  }

  // The run in three phases of sendMs/3 each. In each phase every widget sends its share of the
  // messages, one at a random moment of each slot (so a widget's order is its send order). Near
  // the end of phases 1 and 2 the relay is killed with SIGKILL: the last sends of the phase go
  // to a dead relay and wait in the outboxes. It is restarted after downMs, and the next phase
  // starts once every widget is back (so each kill cuts live sockets, however slow the machine).
  // The backend answers 503 from the middle of phase 2, refuses connections from the second
  // kill, and is back in the middle of phase 3.
  const t0 = Date.now();
  const W = o.sendMs / 3;
  const shares = [Math.ceil(o.messages / 3)];
  shares.push(Math.ceil((o.messages - shares[0]) / 2));
  shares.push(o.messages - shares[0] - shares[1]);
  const timers = [];
  let nextN = 1;
  const sendPhase = (k, startAt) => {
    const first = nextN;
    nextN += k;
    for (const w of widgets) {
      for (let j = 0; j < k; j++) timers.push(setTimeout(() => w.send(first + j), startAt + ((j + random()) * W) / k - Date.now()));
    }
  };
  const kills = [];
  const restarts = [];
  /** The event loop delay of each relay process, read just before it is killed. */
  const loops = [];
  const modeChanges = [];
  const setMode = async (mode) => {
    await backend.setMode(mode);
    modeChanges.push({ mode, at: Date.now() });
  };
  const modeAt = (when, mode) => sleep(when - Date.now()).then(() => setMode(mode));
  /** kill -9 at `when`, restart after downMs, and wait until every widget has a new welcome. */
  const killAndRestart = async (when) => {
    await sleep(when - Date.now());
    const welcomes = widgets.map((w) => w.welcomes);
    const live = widgets.filter((w) => w.client.getSnapshot().state === 'open').length;
    loops.push(await eventLoopDelay(base));
    const t = Date.now();
    const rec = { atMs: t - t0, liveSockets: live, killed: await relay.kill() };
    kills.push(rec);
    await sleep(o.downMs);
    await relay.start();
    const ready = Date.now();
    restarts.push(ready - t0);
    const deadline = ready + 20_000;
    const back = () => widgets.every((w, k) => w.welcomes > welcomes[k] && w.client.getSnapshot().state === 'open');
    while (!back() && Date.now() < deadline) await sleep(20);
    Object.assign(rec, { downMs: ready - t, allBackMs: Date.now() - ready, notBack: widgets.filter((w, k) => w.welcomes <= welcomes[k]).length });
    return Date.now();
  };

  sendPhase(shares[0], t0);
  const back1 = await killAndRestart(t0 + W * (0.75 + 0.15 * random()));
  const p2 = Math.max(t0 + W, back1);
  sendPhase(shares[1], p2);
  const to503 = modeAt(p2 + W * 0.4, '503');
  const killAt2 = p2 + W * (0.75 + 0.15 * random());
  const closed = sleep(killAt2 - Date.now()).then(() => to503).then(() => setMode('closed'));
  const back2 = await killAndRestart(killAt2);
  await closed;
  const p3 = Math.max(p2 + W, back2);
  sendPhase(shares[2], p3);
  await modeAt(p3 + W * 0.3, 'up');
  await sleep(p3 + W - Date.now() + 50);
  const backendDown = {
    ms503: modeChanges[1].at - modeChanges[0].at,
    msClosed: modeChanges[2].at - modeChanges[1].at,
  };
  const sendEnd = Date.now();

  // Settle: every outbox empty, every acked message's webhook in, every reply on its widget's screen.
  const shownTexts = (w) => new Set(w.client.getSnapshot().timeline.map(textOf).filter(Boolean));
  const webhookFor = () => new Set(backend.events.filter((e) => e.type === 'message.created').map((e) => e.messageId));
  const settled = () => {
    const hooks = webhookFor();
    for (const w of widgets) {
      if (w.client.getSnapshot().timeline.some((item) => item.kind === 'msg' && item.status === 'sending')) return false;
      const shown = shownTexts(w);
      for (const s of w.sent) {
        if (w.failed.has(s.id) && !w.acked.has(s.id)) continue;
        if (!w.acked.has(s.id) || !hooks.has(s.id) || !shown.has(`reply to ${s.text}`)) return false;
      }
    }
    return backend.pendingReplies() === 0;
  };
  const settleDeadline = Date.now() + o.settleMs;
  while (!settled() && Date.now() < settleDeadline) await sleep(100);
  const settleMs = Date.now() - sendEnd;
  const timedOut = !settled();

  // ---- read what the relay stored ----
  const history = new Map(); // conversation id → entries | { status }
  async function readHistory(id) {
    const entries = [];
    let after = 0;
    for (;;) {
      let res;
      try {
        res = await fetch(`${base}/v1/conversations/${encodeURIComponent(id)}/messages?after=${after}&limit=200`, {
          headers: { authorization: `Bearer ${API_SECRET}` },
          signal: AbortSignal.timeout(10_000),
        });
      } catch (err) {
        return { status: err?.cause?.code ?? err?.name ?? 'unreachable' };
      }
      if (!res.ok) return { status: res.status };
      const page = await res.json();
      entries.push(...page.entries);
      if (!page.hasMore || page.entries.length === 0) return { entries };
      after = page.entries[page.entries.length - 1].seq;
    }
  }
  const conversationIds = new Set();
  for (const w of widgets) {
    for (const c of w.conversations) conversationIds.add(c);
    for (const a of w.acked.values()) if (a.conversationId) conversationIds.add(a.conversationId);
  }
  for (const e of backend.events) conversationIds.add(e.conversationId);
  for (const id of conversationIds) history.set(id, await readHistory(id));

  // ---- checks ----
  const r = {
    widgets: o.widgets,
    messagesPerWidget: o.messages,
    seed: o.seed,
    engine: o.engine,
    synchronous: o.engine === 'sqlite' ? o.synchronous : undefined,
    kills: kills.filter((k) => k.killed).length,
    restarts: restarts.length,
    sent: 0,
    acked: 0,
    lost: { total: 0, neverAcked: 0, ackedNotInHistory: 0, ackedNotOnScreen: 0, webhookNeverDelivered: 0, replyNeverShown: 0 },
    duplicatedOnScreen: 0,
    duplicatedInHistory: 0,
    rawDuplicates: { msgFrames: 0, webhooks: 0, restReplies: 0 },
    reordered: { total: 0, timeline: 0, history: 0, ownSendOrder: 0, ackSeqMismatch: 0, webhookOrder: 0, startedNotFirst: 0 },
    webhooks: { received: backend.events.length, unique: backend.deliveries.size, byType: {}, refusedWhileDown: backend.stats.refused, invalidSignature: backend.stats.invalid },
    replies: { expected: 0, posted: 0, shown: 0, shownTwice: 0, restAttempts: backend.stats.restAttempts, restFailures: Object.fromEntries(backend.stats.restFailures), conflicts: backend.stats.conflicts },
    reconnects: 0,
    socketsOpened: 0,
    invalidFrames: 0,
    conversationChanges: 0,
    resets: 0,
    clientErrors: {},
    relayLog: { warn: 0, error: 0 },
    timedOut,
    runMs: 0,
    examples: [],
  };
  const example = (s) => r.examples.length < 12 && r.examples.push(s);

  const historyEntries = (id) => {
    const h = history.get(id);
    return h?.entries ?? [];
  };

  for (const w of widgets) {
    r.sent += w.sent.length;
    r.acked += w.acked.size;
    r.reconnects += Math.max(0, w.welcomes - 1);
    r.socketsOpened += w.sockets;
    r.invalidFrames += w.badFrames;
    r.conversationChanges += Math.max(0, w.conversations.size - 1);
    r.resets += w.resets;
    for (const [code, n] of w.errors) r.clientErrors[code] = (r.clientErrors[code] ?? 0) + n;
    for (const n of w.msgFrames.values()) r.rawDuplicates.msgFrames += n - 1;

    const timeline = w.client.getSnapshot().timeline;
    const onScreen = new Set(timeline.map((item) => item.id));
    for (const s of w.sent) {
      const a = w.acked.get(s.id);
      if (!a) {
        r.lost.neverAcked++;
        example(`w${w.i}: "${s.text}" never acked (${w.failed.has(s.id) ? 'failed' : 'still sending'})`);
        continue;
      }
      const stored = historyEntries(a.conversationId).filter((e) => e.kind === 'msg' && e.id === s.id);
      if (stored.length && stored[0].seq !== a.seq) {
        r.reordered.ackSeqMismatch++;
        example(`w${w.i}: "${s.text}" acked with seq ${a.seq}, stored with seq ${stored[0].seq}`);
      }
      if (stored.length === 0) {
        r.lost.ackedNotInHistory++;
        const h = history.get(a.conversationId);
        example(`w${w.i}: "${s.text}" acked with seq ${a.seq} in ${a.conversationId}, missing from its history${h?.status ? ` (${typeof h.status === 'number' ? `HTTP ${h.status}` : h.status})` : ''}`);
      }
      if (!onScreen.has(s.id)) {
        r.lost.ackedNotOnScreen++;
        example(`w${w.i}: "${s.text}" acked with seq ${a.seq}, not on the widget's screen`);
      }
    }

    // On screen: the same id twice, or the same text under two ids.
    const ids = new Map();
    const texts = new Map();
    for (const item of timeline) {
      count(ids, item.id);
      const t = textOf(item);
      if (t !== undefined) (texts.get(t) ?? texts.set(t, new Set()).get(t)).add(item.id);
    }
    for (const [id, n] of ids) if (n > 1) (r.duplicatedOnScreen += n - 1), example(`w${w.i}: id ${id} shown ${n} times`);
    for (const [t, set] of texts) if (set.size > 1) (r.duplicatedOnScreen += set.size - 1), example(`w${w.i}: "${t}" shown under ${set.size} ids`);

    // Replies: each visitor message acked gets "reply to <text>", shown once.
    const shownCount = new Map();
    for (const item of timeline) if (item.kind === 'msg' && item.from.role !== 'visitor') count(shownCount, textOf(item));
    for (const s of w.sent) {
      if (!w.acked.has(s.id)) continue;
      r.replies.expected++;
      const n = shownCount.get(`reply to ${s.text}`) ?? 0;
      if (n === 0) {
        r.lost.replyNeverShown++;
        example(`w${w.i}: no "reply to ${s.text}" on screen`);
      } else r.replies.shown++;
      if (n > 1) r.replies.shownTwice++;
    }

    // Order on screen: seqs strictly increasing, nothing unacked before an acked entry.
    let prev = 0;
    let bad = false;
    for (const item of timeline) {
      if (item.seq === undefined) prev = Infinity;
      else if (!(item.seq > prev)) bad = true;
      else prev = item.seq;
    }
    if (bad) (r.reordered.timeline++, example(`w${w.i}: timeline not in seq order: ${timeline.map((t) => t.seq).join(',')}`));
    // The widget's own messages in the order it sent them, on screen and in the log.
    const sendOrder = (list) => {
      const ns = list.filter((item) => item.kind === 'msg' && w.sentById.has(item.id)).map((item) => w.sentById.get(item.id).n);
      return ns.every((n, k) => k === 0 || n > ns[k - 1]);
    };
    if (!sendOrder(timeline)) (r.reordered.ownSendOrder++, example(`w${w.i}: own messages out of send order on screen`));
    const convs = new Set([...w.acked.values()].map((a) => a.conversationId).filter(Boolean));
    for (const c of convs) if (!sendOrder(historyEntries(c))) (r.reordered.ownSendOrder++, example(`w${w.i}: own messages out of send order in ${c}'s history`));
  }

  for (const [id, h] of history) {
    if (!h.entries) continue;
    const seqs = h.entries.map((e) => e.seq);
    if (!seqs.every((s, k) => k === 0 || s > seqs[k - 1])) (r.reordered.history++, example(`${id}: history seqs not increasing`));
    const ids = new Map();
    const texts = new Map();
    for (const e of h.entries) {
      count(ids, e.id);
      const t = textOf(e);
      if (t !== undefined) (texts.get(t) ?? texts.set(t, new Set()).get(t)).add(e.id);
    }
    for (const [mid, n] of ids) if (n > 1) (r.duplicatedInHistory += n - 1), example(`${id}: id ${mid} stored ${n} times`);
    for (const [t, set] of texts) if (set.size > 1) (r.duplicatedInHistory += set.size - 1), example(`${id}: "${t}" stored under ${set.size} ids`);
  }

  // Webhooks: the first delivery of each webhook-id, per conversation, in arrival order.
  const delivered = new Set(backend.events.filter((e) => e.type === 'message.created').map((e) => e.messageId));
  for (const w of widgets) {
    for (const s of w.sent) {
      if (w.acked.has(s.id) && !delivered.has(s.id)) (r.lost.webhookNeverDelivered++, example(`w${w.i}: no message.created for "${s.text}"`));
    }
  }
  for (const n of backend.deliveries.values()) r.rawDuplicates.webhooks += n - 1;
  const firsts = new Map(); // conversation → first deliveries
  const seen = new Set();
  for (const e of backend.events) {
    r.webhooks.byType[e.type] = (r.webhooks.byType[e.type] ?? 0) + 1;
    if (seen.has(e.webhookId)) continue;
    seen.add(e.webhookId);
    (firsts.get(e.conversationId) ?? firsts.set(e.conversationId, []).get(e.conversationId)).push(e);
  }
  for (const [c, list] of firsts) {
    if (list[0].type !== 'conversation.started' || list.filter((e) => e.type === 'conversation.started').length !== 1) {
      r.reordered.startedNotFirst++;
      example(`${c}: webhooks began ${list.slice(0, 3).map((e) => e.type).join(', ')}`);
    }
    const seqs = list.filter((e) => e.seq !== undefined).map((e) => e.seq);
    if (!seqs.every((s, k) => k === 0 || s > seqs[k - 1])) (r.reordered.webhookOrder++, example(`${c}: webhook seqs arrived ${seqs.join(',')}`));
  }
  r.rawDuplicates.restReplies = backend.stats.restDuplicates;
  r.replies.posted = [...backend.replies.values()].filter((x) => x.state === 'posted').length;
  r.relayLog = { warn: relay.log.warn, error: relay.log.error, unexpectedExits: relay.log.unexpectedExits, messages: Object.fromEntries([...relay.log.messages].sort((a, b) => b[1] - a[1]).slice(0, 10)) };
  r.lost.total = r.lost.neverAcked + r.lost.ackedNotInHistory + r.lost.ackedNotOnScreen + r.lost.webhookNeverDelivered + r.lost.replyNeverShown;
  r.reordered.total = r.reordered.timeline + r.reordered.history + r.reordered.ownSendOrder + r.reordered.ackSeqMismatch + r.reordered.webhookOrder + r.reordered.startedNotFirst;
  r.timings = { sendMs: o.sendMs, kills, settleMs, backendDown503Ms: backendDown.ms503, backendDownClosedMs: backendDown.msClosed };

  loops.push(await eventLoopDelay(base));
  r.eventLoop = loops;
  for (const w of widgets) w.client.disconnect();
  for (const t of timers) clearTimeout(t);
  await backend.stop();
  await relay.kill();
  r.runMs = Date.now() - started;

  const failures = [];
  if (r.lost.total) failures.push('loss');
  if (r.duplicatedOnScreen || r.duplicatedInHistory || r.replies.shownTwice) failures.push('duplicates');
  if (r.reordered.total) failures.push('reordering');
  if (r.kills < 2 || r.restarts < 2) failures.push('the relay was not killed and restarted twice');
  if (r.webhooks.invalidSignature) failures.push('webhooks that failed verification');
  if (r.invalidFrames) failures.push('frames off the protocol');
  if (r.relayLog.unexpectedExits.length) failures.push('the relay exited on its own');
  r.pass = failures.length === 0;
  print(r, failures);
  clearTimeout(watchdog);
  return r.pass ? 0 : 1;
}

function print(r, failures) {
  const kv = (o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [
    `crash test: ${r.widgets} widgets × ${r.messagesPerWidget} messages, seed ${r.seed}, engine ${r.engine}${r.synchronous ? ` (synchronous ${r.synchronous})` : ''}`,
    `relay killed (SIGKILL): ${r.kills} times, restarted ${r.restarts} times (${r.timings.kills.map((k) => `at ${secs(k.atMs)} with ${k.liveSockets} widgets open, down ${secs(k.downMs)}, all back ${secs(k.allBackMs)} later${k.notBack ? `, ${k.notBack} never back` : ''}`).join('; ')})`,
    `backend down: 503 for ${secs(r.timings.backendDown503Ms)}, closed for ${secs(r.timings.backendDownClosedMs)}; deliveries refused ${r.webhooks.refusedWhileDown}`,
    `messages: sent ${r.sent}, acked ${r.acked}`,
    `lost: ${r.lost.total} (never acked ${r.lost.neverAcked}, acked but missing from history ${r.lost.ackedNotInHistory}, acked but not on screen ${r.lost.ackedNotOnScreen}, message.created never delivered ${r.lost.webhookNeverDelivered}, bot reply never shown ${r.lost.replyNeverShown})`,
    `duplicated on screen: ${r.duplicatedOnScreen}`,
    `duplicated in history: ${r.duplicatedInHistory}`,
    `raw duplicates on the wire (allowed, at-least-once): ${r.rawDuplicates.msgFrames} msg frames to widgets, ${r.rawDuplicates.webhooks} webhook deliveries to the backend, ${r.rawDuplicates.restReplies} REST replies answered as duplicates`,
    `reordered: ${r.reordered.total} (timeline ${r.reordered.timeline}, history ${r.reordered.history}, own send order ${r.reordered.ownSendOrder}, ack seq ≠ stored seq ${r.reordered.ackSeqMismatch}, webhook order ${r.reordered.webhookOrder}, conversation.started not first ${r.reordered.startedNotFirst})`,
    `webhooks: received ${r.webhooks.received} (unique ${r.webhooks.unique}; ${kv(r.webhooks.byType) || 'none'}), invalid signature ${r.webhooks.invalidSignature}`,
    `unexpected webhooks: ${r.webhooks.byType['context.updated'] ?? 0} context.updated (no widget changed its page or product)`,
    `bot replies: expected ${r.replies.expected}, posted ${r.replies.posted}, shown ${r.replies.shown}, shown twice ${r.replies.shownTwice}; REST attempts ${r.replies.restAttempts}${Object.keys(r.replies.restFailures).length ? ` (failed: ${kv(r.replies.restFailures)})` : ''}`,
    `reconnects: ${r.reconnects} (sockets opened ${r.socketsOpened}, invalid frames ${r.invalidFrames}, conversation changes ${r.conversationChanges}, resets ${r.resets}); client errors: ${kv(r.clientErrors) || 'none'}`,
    `relay event loop delay, per relay process: ${r.eventLoop.map((l) => (l ? `max ${l.maxMs} ms (p99 ${l.p99Ms} ms)` : 'unknown')).join(', ')}`,
    `relay log: ${r.relayLog.warn} warnings, ${r.relayLog.error} errors${r.relayLog.unexpectedExits.length ? `; EXITED ON ITS OWN: ${r.relayLog.unexpectedExits.join('; ')}` : ''}`,
    ...Object.entries(r.relayLog.messages).map(([m, n]) => `  ${n}× ${m}`),
    `settled in ${secs(r.timings.settleMs)} after the last send${r.timedOut ? ' (DEADLINE PASSED: not everything arrived)' : ''}`,
    `run time: ${secs(r.runMs)}`,
    ...(r.examples.length ? ['examples:', ...r.examples.map((e) => `  ${e}`)] : []),
    r.pass ? 'RESULT: PASS' : `RESULT: FAIL (${failures.join('; ')})`,
  ];
  console.log(lines.join('\n'));
  console.log(`CRASH_SUMMARY ${JSON.stringify(r)}`);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`crash-test: the run broke: ${err?.stack ?? err}`);
    process.exit(2);
  },
);
