#!/usr/bin/env node
// `npm run bench`: the relay side by side with a bare `ws` server and with Socket.IO 4, in one run,
// each server in a process of its own, A and B in turns: idle memory per open widget, visitor
// send → ack, the bot path (visitor → server → backend over HTTP keep-alive → reply → visitor),
// catch-up of widgets reconnecting at once, GET /v1/conversations, the relay's top functions by
// self time, and the widget on the demo shop in Chromium. It writes the result as JSON and
// docs/benchmarks.md with SVG charts, each goal marked met or not. The scale-out comparison
// (Redis, two processes) is `npm run bench:scale`. Build first: `npm run build`. See
// docs/benchmarks.md.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { closeAll, openBare, openMany, openRawSocketIo, relayVisitors, bareVisitors } from './bench/clients.mjs';
import { MESSAGE_BODY, REPLY_BODY, nextMessageId, replyId } from './bench/constants.mjs';
import { idleMemory, listConversations, loadWindow, sleep, stampede } from './bench/measure.mjs';
import { cpuSeconds, startServer } from './bench/processes.mjs';
import { topSelfTime } from './bench/profile.mjs';
import { writeReport } from './bench/report.mjs';
import { benchRelayConfig } from './lib/bench-relay-config.mjs';
import { combineWindows, percentiles, ratio, round } from './bench/stats.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH_PACKAGE = new URL('../packages/bench/src/', import.meta.url);
/** Hard stop for the whole run, whatever the flags; the children go with it. */
const WATCHDOG_MS = 12 * 60_000;

/** Flag defaults, and the smaller set `--quick` starts from (a smoke check: every path). */
const DEFAULTS = { connections: 10_000, clients: 50, seconds: 5, rounds: 3, catchUp: 1000, lists: '100,1000,10000', listReps: 10, profileSeconds: 4 };
const QUICK = { connections: 300, clients: 10, seconds: 0.5, rounds: 2, catchUp: 100, lists: '10,100,300', listReps: 2, profileSeconds: 0.5 };

const ENGINES = {
  memory: { type: 'memory' },
  'sqlite-full': { type: 'sqlite', synchronous: 'FULL' },
  'sqlite-normal': { type: 'sqlite', synchronous: 'NORMAL' },
};

/** The size ceilings of the browser bundles (test/size.test.ts), brotli bytes. */
const BUNDLES = [
  { name: 'loader', file: 'packages/loader/dist/loader.js', ceiling: 1024 },
  { name: 'widget', file: 'packages/widget/dist/parley.iife.js', ceiling: 16384 },
];

const HELP = `node scripts/bench.mjs [--quick] [--rounds R] [--seconds S] [--clients K] [--connections N] [--catch-up W]
                        [--lists A,B,C] [--list-reps R] [--profile-seconds S] [--engine E] [--out DIR] [--json-out FILE] [--no-widget]

  --rounds R           load windows per server and path, in turns, every other round reversed (default ${DEFAULTS.rounds})
  --seconds S          length of each load window (default ${DEFAULTS.seconds})
  --clients K          concurrent visitors in each load window (default ${DEFAULTS.clients})
  --connections N      idle widgets held on each server for the memory figure (default ${DEFAULTS.connections})
  --catch-up W         widgets reconnecting at once (default ${DEFAULTS.catchUp})
  --lists A,B,C        conversations of the sites GET /v1/conversations is timed on (default ${DEFAULTS.lists})
  --list-reps R        listings timed per site (default ${DEFAULTS.listReps})
  --profile-seconds S  load per path on the profiled relay (default ${DEFAULTS.profileSeconds})
  --engine E           the relay's engine: ${Object.keys(ENGINES).join(', ')} (default memory)
  --quick              smoke check, every path (${Object.entries(QUICK).map(([k, v]) => `${k} ${v}`).join(', ')}); flags still win;
                       writes to a temporary directory unless --out is given
  --out DIR            where benchmarks.md and bench/ (charts, results.json) go (default docs/; --quick: a temp dir)
  --json-out FILE      the JSON result (default <out>/bench/results.json)
  --no-widget          leave out the widget in Chromium
Build first: npm run build (and npm install, for packages/bench).`;

async function main() {
  const { values: args } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      clients: { type: 'string' },
      connections: { type: 'string' },
      'catch-up': { type: 'string' },
      lists: { type: 'string' },
      'list-reps': { type: 'string' },
      'profile-seconds': { type: 'string' },
      engine: { type: 'string', default: 'memory' },
      out: { type: 'string' },
      'json-out': { type: 'string' },
      'no-widget': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (args.help) return console.log(HELP);
  const base = args.quick ? QUICK : DEFAULTS;
  const opts = {
    quick: args.quick,
    rounds: positive(args.rounds ?? base.rounds, '--rounds', true),
    seconds: positive(args.seconds ?? base.seconds, '--seconds'),
    clients: positive(args.clients ?? base.clients, '--clients', true),
    connections: positive(args.connections ?? base.connections, '--connections', true),
    catchUp: positive(args['catch-up'] ?? base.catchUp, '--catch-up', true),
    lists: String(args.lists ?? base.lists)
      .split(',')
      .map((x) => positive(x, '--lists', true)),
    listReps: positive(args['list-reps'] ?? base.listReps, '--list-reps', true),
    profileSeconds: positive(args['profile-seconds'] ?? base.profileSeconds, '--profile-seconds'),
    engine: args.engine,
    widget: !args['no-widget'],
  };
  if (!ENGINES[opts.engine]) throw new Error(`--engine: unknown engine "${opts.engine}" (known: ${Object.keys(ENGINES).join(', ')})`);
  const outDir = resolve(args.out ?? (args.quick ? mkdtempSync(join(tmpdir(), 'parley-bench-quick-')) : join(ROOT, 'docs')));
  const jsonOut = resolve(args['json-out'] ?? join(outDir, 'bench', 'results.json'));

  const t00 = performance.now();
  const log = (line) => process.stderr.write(`[${((performance.now() - t00) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
  const procs = [];
  const scratch = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const cleanup = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  };
  const watchdog = setTimeout(() => {
    process.stderr.write('bench: the run took too long; stopping.\n');
    cleanup();
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      cleanup();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }

  const started = new Date();
  const servers = [];
  const up = (s) => (servers.push(s), s);
  let result;
  try {
    const relayDist = await import('../packages/relay/dist/index.js');
    const socketMode = backendSocketMode(relayDist.SiteConfig);
    const backendDist = await import('@parley/backend');
    const withSocket = socketMode !== undefined && typeof backendDist.connectRelay === 'function';
    if (!withSocket) log('The relay has no backend socket in this build: its figures are left out.');

    // (7) The widget on the demo shop in Chromium, first: on a quiet machine, as in a visitor's
    // browser, before the servers below hold memory and still deliver webhooks in the background.
    let widget;
    if (opts.widget) widget = await benchWidgetIfThere(log, opts);

    log('Starting the backend, the bare ws server, Socket.IO and the relay, each in its own process…');
    const backend = up(await startServer('backend', {}, { procs }));
    const backendBase = `http://127.0.0.1:${backend.port}`;
    // The peers' HTTP pools get as many connections as the relay delivers events at once.
    const poolConnections = relayDist.WebhooksConfig?.parse?.({}).concurrency ?? 16;
    /** The engine config of a relay; a SQLite relay gets a file of its own. */
    const engine = (name) => ({ ...ENGINES[opts.engine], ...(opts.engine.startsWith('sqlite') ? { path: join(scratch, `${name}.db`) } : {}) });
    const sites = benchSites(backendBase, opts, withSocket ? socketMode : undefined);
    const [bare, socketio, relay] = await Promise.all([
      startServer('bare', { backendUrl: `${backendBase}/bot/bare`, connections: poolConnections }, { procs }).then(up),
      startServer('socketio', { backendUrl: `${backendBase}/bot/socketio`, connections: poolConnections }, { procs }).then(up),
      startServer('relay', relayConfig(engine('relay'), sites.all, relayDist.LimitsConfig), { procs }).then(up),
    ]);
    const relayBase = `http://127.0.0.1:${relay.port}`;
    if (withSocket) {
      for (const s of sites.all.filter((x) => x.socket)) {
        await backend.call('connect', { url: backendSocketUrl(relay.port), apiSecret: s.apiSecret, name: s.name, mode: s.mode });
      }
    }
    const { socketIoVisitors } = await import(new URL('socketio-visitor.mjs', BENCH_PACKAGE));
    const sio = (bot) => socketIoVisitors({ port: socketio.port, bot, nextId: nextMessageId, body: MESSAGE_BODY, replyId });
    let conversations = 0;
    const rawSio = () => openRawSocketIo(socketio.port, `idle-${++conversations}`);

    // (0) Sizes of the built bundles.
    const bundles = BUNDLES.map((b) => bundleSize(b));

    // (1) Idle memory per open widget: warm-up first, then each server in turn.
    log('Warming up connections…');
    const warmRelay = relayVisitors({ port: relay.port, siteKey: sites.warm.siteKey });
    for (const open of [() => openBare(bare.port), rawSio, () => warmRelay.open()]) await closeAll(await openMany(open, Math.min(200, opts.connections)));
    const memory = {};
    const idleRelay = relayVisitors({ port: relay.port, siteKey: sites.idle.siteKey });
    for (const [name, server, open] of [
      ['bare', bare, () => openBare(bare.port)],
      ['socketio', socketio, rawSio],
      ['relay', relay, () => idleRelay.open()],
    ]) {
      log(`Memory: holding ${opts.connections} idle connections (on top of ${Math.round(opts.connections / 10)}) on ${name}…`);
      const { figure, conns } = await idleMemory(open, server, opts.connections);
      memory[name] = figure;
      if (name === 'relay') {
        // Each of the N measured widgets sends one message, so the site's conversations are stored: the largest listing.
        const measured = conns.slice(-opts.connections);
        log(`Each of the ${measured.length} idle widgets sends a message (the ${measured.length}-conversation listing)…`);
        await sendOnce(idleRelay, measured, 200);
      }
      await closeAll(conns);
    }

    // (2) GET /v1/conversations.
    for (const s of sites.lists) {
      log(`Storing ${s.size} conversations for the listing…`);
      const v = relayVisitors({ port: relay.port, siteKey: s.siteKey });
      for (let i = 0; i < s.size; i += 200) {
        const conns = await openMany(() => v.open(), Math.min(200, s.size - i));
        await sendOnce(v, conns, 200);
        await closeAll(conns);
      }
    }
    await waitBackend(backend, ['idle', 'list'], opts.connections + sites.lists.reduce((n, s) => n + s.size, 0));
    const listing = [];
    for (const s of [...sites.lists, { size: opts.connections, apiSecret: sites.idle.apiSecret }].sort((a, b) => a.size - b.size)) {
      log(`GET /v1/conversations at ${s.size} conversations, ${opts.listReps} times…`);
      const r = await listConversations({ base: relayBase, apiSecret: s.apiSecret, server: relay, reps: opts.listReps, pageSize: 100 });
      const walk = percentiles(r.walks.map((w) => w.ms));
      listing.push({
        conversations: s.size,
        shape: r.shape,
        returned: r.walks[0].count,
        pages: r.walks[0].pages,
        bytes: r.walks[0].bytes,
        walkP50: walk.p50,
        walkMax: walk.max,
        firstPageP50: percentiles(r.firstPages).p50,
        cpuMsPerWalk: round(r.cpuMsPerWalk, 2),
      });
    }

    // (3) Send → ack and (4) the bot path: load windows, every server in turn.
    const ackTargets = [
      { key: 'bare', label: 'bare ws, echo', server: bare, visitors: bareVisitors({ port: bare.port }) },
      { key: 'socketio', label: 'Socket.IO, emit with ack', server: socketio, visitors: sio(false) },
      { key: 'relay-webhook', label: 'Parley, event over a webhook', server: relay, visitors: relayVisitors({ port: relay.port, siteKey: sites.ackHook.siteKey }), backendName: sites.ackHook.name },
      ...(withSocket
        ? [{ key: 'relay-socket', label: 'Parley, event over the backend socket', server: relay, visitors: relayVisitors({ port: relay.port, siteKey: sites.ackSock.siteKey }), backendName: sites.ackSock.name }]
        : []),
    ];
    const botTargets = [
      { key: 'bare', label: 'bare ws + undici', server: bare, visitors: bareVisitors({ port: bare.port, bot: true }) },
      { key: 'socketio', label: 'Socket.IO + undici', server: socketio, visitors: sio(true) },
      { key: 'relay-webhook', label: 'Parley, webhook', server: relay, visitors: relayVisitors({ port: relay.port, siteKey: sites.botHook.siteKey, bot: true }), backendName: sites.botHook.name },
      ...(withSocket
        ? [{ key: 'relay-socket', label: 'Parley, backend socket', server: relay, visitors: relayVisitors({ port: relay.port, siteKey: sites.botSock.siteKey, bot: true }), backendName: sites.botSock.name }]
        : []),
    ];
    log('Warming up messages…');
    for (const t of [...ackTargets, ...botTargets]) {
      await loadWindow({ ...t, k: Math.min(opts.clients, 20), seconds: Math.min(1, opts.seconds), backend });
    }
    const runPath = async (what, targets) => {
      const windows = Object.fromEntries(targets.map((t) => [t.key, []]));
      for (let i = 0; i < opts.rounds; i++) {
        for (const t of i % 2 === 0 ? targets : [...targets].reverse()) {
          log(`${what}, round ${i + 1}/${opts.rounds}: ${opts.clients} visitors for ${opts.seconds} s on ${t.label}…`);
          windows[t.key].push(await loadWindow({ ...t, k: opts.clients, seconds: opts.seconds, backend }));
        }
      }
      return Object.fromEntries(targets.map((t) => [t.key, { label: t.label, ...combineWindows(windows[t.key]) }]));
    };
    const ack = await runPath('Send → ack', ackTargets);
    const bot = await runPath('Bot path', botTargets);

    // (5) Catch-up: widgets reconnecting at once.
    log(`Catch-up: ${opts.catchUp} widgets with a conversation each, and a reply stored while they were away…`);
    const catchV = relayVisitors({ port: relay.port, siteKey: sites.catchUp.siteKey });
    const away = await openMany(() => catchV.open(), opts.catchUp);
    await sendOnce(catchV, away, 200);
    const held = away.map((c) => ({ token: c.token, lastSeq: c.lastSeq, conversationId: c.conversationId }));
    await closeAll(away);
    for (let i = 0; i < held.length; i += 100) {
      await Promise.all(held.slice(i, i + 100).map((h) => postReply(relayBase, sites.catchUp.apiSecret, h.conversationId)));
    }
    await sleep(300);
    const catchUp = {};
    for (const [name, server, open, ready] of [
      ['bare', bare, () => openBare(bare.port), async () => {}],
      ['socketio', socketio, rawSio, async () => {}],
      ['relay', relay, (i) => catchV.open(held[i]), (c) => catchV.caughtUp(c)],
    ]) {
      log(`Catch-up: ${opts.catchUp} connections at once on ${name}…`);
      const r = await stampede(open, ready, server, opts.catchUp);
      await closeAll(r.conns);
      catchUp[name] = { connections: opts.catchUp, ...percentiles(r.times), wallMs: Math.round(r.wall), cpuMs: Math.round(r.cpu * 1000) };
      await sleep(300);
    }

    // (6) The relay's top functions by self time, on a relay of its own started with --cpu-prof.
    log(`Profiling a relay of its own: ${opts.clients} visitors for ${opts.profileSeconds} s per path…`);
    const profDir = join(scratch, 'profile');
    const profiled = await startServer('relay', relayConfig(engine('profiled'), sites.all, relayDist.LimitsConfig), { procs, cpuProf: { dir: profDir, name: 'relay.cpuprofile' } });
    let profile;
    try {
      if (withSocket) {
        for (const s of [sites.ackSock, sites.botSock]) {
          await backend.call('connect', { url: backendSocketUrl(profiled.port), apiSecret: s.apiSecret, name: `${s.name}-profiled`, mode: s.mode });
        }
      }
      const paths = [
        [sites.ackHook, false],
        [sites.botHook, true],
        ...(withSocket ? [[sites.ackSock, false], [sites.botSock, true]] : []),
      ];
      const s0 = await profiled.stats();
      for (const [s, isBot] of paths) {
        await loadWindow({ server: profiled, visitors: relayVisitors({ port: profiled.port, siteKey: s.siteKey, bot: isBot }), k: opts.clients, seconds: opts.profileSeconds, label: `the profiled relay (${s.name})` });
      }
      const s1 = await profiled.stats();
      if (withSocket) for (const s of [sites.ackSock, sites.botSock]) await backend.call('disconnect', { name: `${s.name}-profiled` });
      await profiled.close();
      profile = {
        paths: paths.map(([s, isBot]) => `${isBot ? 'bot path' : 'send → ack'}, ${s.socket ? 'backend socket' : 'webhook'}`),
        loadCpuSec: round(cpuSeconds(s0.cpu, s1.cpu), 2),
        ...topSelfTime(join(profDir, 'relay.cpuprofile'), 10, { fromUs: s0.hrtimeUs, toUs: s1.hrtimeUs }),
      };
    } catch (err) {
      await profiled.close();
      throw err;
    }

    const backendStats = (await backend.stats()).counts;
    result = buildResult({ opts, poolConnections, started, bundles, memory, listing, ack, bot, catchUp, profile, widget, withSocket, socketMode, backendStats, elapsedMs: performance.now() - t00 });
  } finally {
    for (const s of servers.reverse()) await s.close();
    cleanup();
    clearTimeout(watchdog);
  }

  mkdirSync(join(outDir, 'bench'), { recursive: true });
  mkdirSync(resolve(jsonOut, '..'), { recursive: true });
  writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
  writeReport(result, outDir, { jsonPath: relative(outDir, jsonOut), saved: readSavedRuns(join(outDir, 'bench')) });
  log(`Wrote ${relative(process.cwd(), join(outDir, 'benchmarks.md'))}, its charts in ${relative(process.cwd(), join(outDir, 'bench'))}/ and ${relative(process.cwd(), jsonOut)} (${result.elapsedSec} s in all).`);
  for (const g of result.goals) process.stderr.write(`  ${g.met === true ? 'met    ' : g.met === false ? 'NOT met' : 'n/a    '}  ${g.goal}: ${g.figure}\n`);
}

function positive(value, name, integer = false) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}`);
  return n;
}

/** The value of the site config key that sends every event over the backend socket, or undefined when the relay has none. */
function backendSocketMode(SiteConfig) {
  const schema = SiteConfig?.shape?.backendSocket;
  if (!schema) return undefined;
  for (const mode of ['only', true, 'on']) if (schema.safeParse(mode).success) return mode;
  return undefined;
}

/** Where `connectRelay` reaches the relay on `port`. */
const backendSocketUrl = (port) => `http://127.0.0.1:${port}`;

/**
 * The bench's sites: one per path, so each load window's events reach the backend under its own
 * name; `mode` is what the backend does with a visitor message (`bot`: reply; `ack`: count only).
 */
function benchSites(backendBase, opts, socketMode) {
  const site = (siteKey, name, mode, socket) => ({
    siteKey,
    name,
    mode,
    socket: socket !== undefined,
    apiSecret: `api_secret_${siteKey}_0123456789`,
    config: {
      siteKey,
      name: 'Bench Shop',
      allowedOrigins: ['https://shop.example'],
      webhookUrl: `${backendBase}/hook/${name}/${mode}`,
      webhookSecret: 'whsec_' + Buffer.from('bench-webhook-secret-32-bytes-x!').toString('base64'),
      apiSecret: `api_secret_${siteKey}_0123456789`,
      // The webhook sites say so when the relay has a backend socket (its default may fall back to webhooks).
      ...(socket !== undefined ? { backendSocket: socket } : socketMode !== undefined ? { backendSocket: 'off' } : {}),
    },
  });
  const s = {
    warm: site('pk_warm', 'warm', 'ack'),
    idle: site('pk_idle', 'idle', 'ack'),
    ackHook: site('pk_ack_hook', 'ack-hook', 'ack'),
    botHook: site('pk_bot_hook', 'bot-hook', 'bot'),
    catchUp: site('pk_catch_up', 'catch-up', 'ack'),
    lists: opts.lists.filter((n) => n !== opts.connections).map((n) => ({ ...site(`pk_list_${n}`, 'list', 'ack'), size: n })),
    ...(socketMode !== undefined ? { ackSock: site('pk_ack_socket', 'ack-socket', 'ack', socketMode), botSock: site('pk_bot_socket', 'bot-socket', 'bot', socketMode) } : {}),
  };
  s.all = [s.warm, s.idle, s.ackHook, s.botHook, s.catchUp, ...s.lists, ...(s.ackSock ? [s.ackSock, s.botSock] : [])];
  return s;
}

/** The relay as the bench runs it, with the bench's sites. */
function relayConfig(engine, sites, LimitsConfig) {
  return benchRelayConfig({ engine, sites: sites.map((s) => s.config), LimitsConfig });
}

/** Each connection sends one message; resolves once all are done. */
async function sendOnce(visitors, conns, batch) {
  for (let i = 0; i < conns.length; i += batch) await Promise.all(conns.slice(i, i + batch).map((c) => visitors.send(c)));
}

/** Waits until the backend has counted `n` visitor messages under the given names (60 s at most). */
async function waitBackend(backend, names, n) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const counts = (await backend.stats()).counts ?? {};
    if (names.reduce((sum, name) => sum + (counts[name]?.events ?? 0), 0) >= n || Date.now() > deadline) return;
    await sleep(50);
  }
}

/** The backend posts a reply to a conversation over REST (what a widget that was away must catch up on). */
async function postReply(relayBase, apiSecret, conversationId) {
  const res = await fetch(`${relayBase}/v1/conversations/${encodeURIComponent(conversationId)}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: `away-${conversationId}`, body: REPLY_BODY }),
  });
  if (!res.ok) throw new Error(`POST messages: HTTP ${res.status} ${await res.text()}`);
}

/** Raw, gzip and brotli bytes of a built bundle, against its ceiling. */
function bundleSize({ name, file, ceiling }) {
  const path = join(ROOT, file);
  if (!existsSync(path)) return { name, file, ceiling, missing: true };
  const code = readFileSync(path);
  return {
    name,
    file,
    ceiling,
    raw: code.byteLength,
    gzip: gzipSync(code, { level: 9 }).byteLength,
    brotli: brotliCompressSync(code, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).byteLength,
  };
}

/** The latest saved runs of `npm run bench:scale` and `npm run chaos` in `dir` (`--save`), those there are. */
function readSavedRuns(dir) {
  const read = (name) => {
    const file = join(dir, name);
    if (!existsSync(file)) return undefined;
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return undefined;
    }
  };
  return { scaleOut: read('scale-out.json'), chaos: read('chaos.json') };
}

/** The widget in Chromium (scripts/bench-widget.mjs), when that script is there. */
async function benchWidgetIfThere(log, opts) {
  const script = join(ROOT, 'scripts/bench-widget.mjs');
  if (!existsSync(script)) {
    log('The widget in Chromium: scripts/bench-widget.mjs is not there; left out.');
    return { missing: true };
  }
  log('The widget on the demo shop in Chromium…');
  try {
    const { benchWidget } = await import(script);
    return await benchWidget({ runs: opts.quick ? 1 : 5 });
  } catch (err) {
    log(`The widget in Chromium failed: ${err?.message ?? err}`);
    return { error: String(err?.message ?? err) };
  }
}

/** The result as written to JSON, with every ratio and goal. */
function buildResult({ opts, poolConnections, started, bundles, memory, listing, ack, bot, catchUp, profile, widget, withSocket, socketMode, backendStats, elapsedMs }) {
  const cpu = cpus();
  const goals = [];
  const goal = (g, figure, met, detail) => goals.push({ goal: g, figure, met, ...(detail ? { detail } : {}) });
  const r = (a, b) => ratio(a, b);
  const perCpu = (path, key) => path[key]?.perCpuSec;
  const p99 = (path, key) => path[key]?.p99;

  const ratios = {
    idleMemory: { relayVsBare: r(memory.relay.rssBytesPerConn, memory.bare.rssBytesPerConn), relayVsSocketIo: r(memory.relay.rssBytesPerConn, memory.socketio.rssBytesPerConn) },
    ack: {
      webhookVsSocketIo: r(perCpu(ack, 'relay-webhook'), perCpu(ack, 'socketio')),
      socketVsSocketIo: r(perCpu(ack, 'relay-socket'), perCpu(ack, 'socketio')),
      webhookP99VsSocketIo: r(p99(ack, 'relay-webhook'), p99(ack, 'socketio')),
      socketP99VsSocketIo: r(p99(ack, 'relay-socket'), p99(ack, 'socketio')),
      socketIoVsBare: r(perCpu(ack, 'socketio'), perCpu(ack, 'bare')),
    },
    bot: {
      webhookVsSocketIo: r(perCpu(bot, 'relay-webhook'), perCpu(bot, 'socketio')),
      socketVsSocketIo: r(perCpu(bot, 'relay-socket'), perCpu(bot, 'socketio')),
      webhookP99VsSocketIo: r(p99(bot, 'relay-webhook'), p99(bot, 'socketio')),
      socketP99VsSocketIo: r(p99(bot, 'relay-socket'), p99(bot, 'socketio')),
      socketIoVsBare: r(perCpu(bot, 'socketio'), perCpu(bot, 'bare')),
    },
  };
  const atLeast = (x, min) => (x === null ? null : x >= min);
  const atMost = (x, max) => (x === null ? null : x <= max);
  const x = (v) => (v === null ? 'not measured' : `${v}×`);
  goal('Bot path over the backend socket ≥ 1.5× Socket.IO + undici (round trips per server CPU-second)', x(ratios.bot.socketVsSocketIo), atLeast(ratios.bot.socketVsSocketIo, 1.5));
  goal('Bot path over webhooks ≥ 0.8× Socket.IO + undici (round trips per server CPU-second)', x(ratios.bot.webhookVsSocketIo), atLeast(ratios.bot.webhookVsSocketIo, 0.8));
  goal('Send → ack, event over the backend socket ≥ 1× Socket.IO emit-with-ack (messages per server CPU-second)', x(ratios.ack.socketVsSocketIo), atLeast(ratios.ack.socketVsSocketIo, 1));
  goal('p99, bot path over the backend socket ≤ 1.5× Socket.IO + undici', x(ratios.bot.socketP99VsSocketIo), atMost(ratios.bot.socketP99VsSocketIo, 1.5));
  goal('p99, bot path over webhooks ≤ 1.5× Socket.IO + undici', x(ratios.bot.webhookP99VsSocketIo), atMost(ratios.bot.webhookP99VsSocketIo, 1.5));
  goal('p99, send → ack over the backend socket ≤ 1.5× Socket.IO emit-with-ack', x(ratios.ack.socketP99VsSocketIo), atMost(ratios.ack.socketP99VsSocketIo, 1.5));
  goal('Idle memory per open widget ≤ 1.3× bare ws', x(ratios.idleMemory.relayVsBare), atMost(ratios.idleMemory.relayVsBare, 1.3));
  for (const b of bundles) {
    const limit = b.ceiling === 1024 ? '1 KB' : `${b.ceiling / 1024} KB`;
    goal(`${b.name === 'loader' ? 'Loader' : 'Widget'} ≤ ${limit} brotli`, b.missing ? 'not built' : `${b.brotli.toLocaleString('en-US')} B`, b.missing ? null : b.brotli <= b.ceiling);
  }
  const w = widget && !widget.missing && !widget.error ? widgetFigures(widget) : undefined;
  goal('Before intent a new visitor opens no socket', w?.socketsBeforeClick === undefined ? 'not measured' : `${w.socketsBeforeClick} sockets`, w?.socketsBeforeClick === undefined ? null : w.socketsBeforeClick === 0);
  goal(
    'Before intent a new visitor leaves no relay state',
    w?.relayStateBeforeClick === undefined
      ? 'not measured'
      : w.relayStateBeforeClick === 0
        ? `no socket; relay calls: ${w.relayCallsBeforeClick.length ? w.relayCallsBeforeClick.map((u) => `GET ${u}`).join(', ') : 'none'}`
        : `${w.socketsBeforeClick} sockets; relay calls: ${w.relayCallsBeforeClick.join(', ')}`,
    w?.relayStateBeforeClick === undefined ? null : w.relayStateBeforeClick === 0,
  );
  goal('0 long tasks before interaction', w?.longTasks === undefined ? 'not measured' : String(w.longTasks), w?.longTasks === undefined ? null : w.longTasks === 0);
  goal('CLS 0', w?.cls === undefined ? 'not measured' : String(w.cls), w?.cls === undefined ? null : w.cls === 0);

  return {
    bench: 'parley-side-by-side',
    date: started.toISOString(),
    machine: { cpu: cpu[0]?.model?.trim() ?? '?', cores: cpu.length, memoryGiB: round(totalmem() / 1024 ** 3, 1), platform: `${process.platform}-${process.arch}`, loadAverage: loadavg().map((l) => round(l, 2)) },
    node: process.version,
    options: opts,
    relay: { engine: opts.engine, backendSocket: withSocket ? socketMode : 'not in this build', webhookConcurrency: poolConnections, peersPoolConnections: poolConnections },
    bundles,
    memory,
    listing,
    ack,
    bot,
    catchUp,
    profile,
    widget: widget ?? { skipped: true },
    widgetFigures: w,
    ratios,
    goals,
    backend: backendStats,
    elapsedSec: round(elapsedMs / 1000, 1),
  };
}

/**
 * The figures the goals read from scripts/bench-widget.mjs's result. Relay state before intent is
 * read from the traffic: no widget socket, and no request to the relay's `/v1/` API before the
 * click but the site config (a read). Anything else is counted as state the visitor may have left.
 */
function widgetFigures(wr) {
  const relayCalls = (wr.beforeClick?.urls ?? []).filter((u) => u.startsWith('/v1/'));
  const writes = relayCalls.filter((u) => !/^\/v1\/sites\/[^/]+\/config$/.test(u));
  const greeting = wr.clickToGreetingMs;
  return {
    runs: wr.runs,
    bytesBeforeLoad: wr.beforeLoad?.bytes,
    requestsBeforeLoad: wr.beforeLoad?.requests,
    bytesBeforeClick: wr.beforeClick?.bytes,
    requestsBeforeClick: wr.beforeClick?.requests,
    socketsBeforeClick: wr.socketsBeforeClick,
    relayCallsBeforeClick: relayCalls,
    relayStateBeforeClick: wr.socketsBeforeClick === undefined ? undefined : wr.socketsBeforeClick + writes.length,
    longTasks: wr.longTasksBeforeInteraction,
    cls: wr.cls,
    // Each layout shift that counted: when (ms into the page), how much, and what moved.
    shifts: wr.shifts ?? [],
    clickToGreetingMs: typeof greeting === 'object' ? greeting?.median : greeting,
    clickToGreetingMaxMs: typeof greeting === 'object' ? greeting?.max : undefined,
  };
}

await main();
