#!/usr/bin/env node
// `npm run bench:scale`: the relay measured side by side with a bare `ws` echo server, the relay on
// each engine (memory, SQLite FULL, SQLite NORMAL) side by side, and the scale-out scenarios: the
// relay on Redis with one and two instances against Socket.IO 4 with its Redis adapter on one and
// two processes, all in the same run, on the same machine. Each server runs in its own child
// process so its memory and CPU time can be attributed to it; each Redis scenario gets a
// redis-server of its own (a spare port, a scratch directory, stopped at the end); this process
// opens the client sockets and hosts the webhook sink. The ratios (relay / bare, engine / memory,
// Parley / Socket.IO) are the figures that count; absolute numbers depend on the machine and its
// noise. Build first: `npx tsc -b`. See docs/benchmarks-scale-out.md; `npm run bench` is the
// side-by-side suite of the performance goals (scripts/bench.mjs).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { forkServer } from './bench/processes.mjs';
import { benchRelayConfig } from './lib/bench-relay-config.mjs';

const ORIGIN = 'https://shop.example';
const SITE_KEY = 'pk_bench';
const GIB = 1024 ** 3;
/** Hard stop for the whole run, whatever the flags; children are killed with it. */
const WATCHDOG_MS = 15 * 60_000;
/** The relay's default `retention.maxMessages` (the bench keeps it): entries a conversation's log keeps. */
const RETENTION = 1000;
/** Where the Socket.IO server and client, and the redis-server helper, live with their dependencies. */
const BENCH_PACKAGE = new URL('../packages/bench/src/', import.meta.url);

/** The engines `--engines` can name. A SQLite relay gets the `path` of a fresh temporary file. */
const ENGINES = {
  memory: { label: 'memory', config: { type: 'memory' } },
  'sqlite-full': { label: 'SQLite FULL', config: { type: 'sqlite', synchronous: 'FULL' } },
  'sqlite-normal': { label: 'SQLite NORMAL', config: { type: 'sqlite', synchronous: 'NORMAL' } },
};

/**
 * The scale-out scenarios `--scenarios` can name. `memory` is the relay on the memory engine above
 * (the baseline, always run); every other one gets its own redis-server with `appendonly yes` and
 * the given `appendfsync`, and `processes` server processes on it, the clients split across them
 * in turn (no stickiness).
 */
const SCENARIOS = {
  memory: { label: 'Parley, memory, 1 relay', kind: 'relay', processes: 1 },
  'redis-1': { label: 'Parley, Redis, 1 relay', kind: 'relay', processes: 1, appendfsync: 'everysec' },
  'redis-2': { label: 'Parley, Redis, 2 relays', kind: 'relay', processes: 2, appendfsync: 'everysec' },
  'socketio-1': { label: 'Socket.IO + Redis adapter, 1 server', kind: 'socketio', processes: 1, appendfsync: 'everysec' },
  'socketio-2': { label: 'Socket.IO + Redis adapter, 2 servers', kind: 'socketio', processes: 2, appendfsync: 'everysec' },
  'redis-1-always': { label: 'Parley, Redis fsync always, 1 relay', kind: 'relay', processes: 1, appendfsync: 'always' },
  'redis-2-always': { label: 'Parley, Redis fsync always, 2 relays', kind: 'relay', processes: 2, appendfsync: 'always' },
  'redis-1-batch': { label: 'Parley, Redis, 1 relay, webhookBatch 50', kind: 'relay', processes: 1, appendfsync: 'everysec', webhookBatch: 50 },
  'redis-2-batch': { label: 'Parley, Redis, 2 relays, webhookBatch 50', kind: 'relay', processes: 2, appendfsync: 'everysec', webhookBatch: 50 },
};
/** Each Socket.IO scenario runs between the two relay scenarios it is compared with, so a drift of the machine's speed weighs on both alike. */
const DEFAULT_SCENARIOS = ['memory', 'redis-1', 'socketio-1', 'redis-1-batch', 'redis-2', 'socketio-2', 'redis-2-batch'];
/** `--quick`'s: the two-process scenarios run every path of the one-process ones, with fewer processes to start. */
const QUICK_SCENARIOS = ['memory', 'redis-2', 'socketio-2', 'redis-2-batch'];

/** Flag defaults, and the smaller set `--quick` starts from (a smoke check: every path, in seconds). */
const DEFAULTS = { connections: 2000, messages: 1000, seconds: 5, clients: 50, rounds: 2 };
const QUICK = { connections: 50, messages: 50, seconds: 0.2, clients: 5, rounds: 2 };

// ---------------------------------------------------------------------------------------------
// Child: one server (bare ws echo, the relay, or Socket.IO) answering the parent over IPC.
// ---------------------------------------------------------------------------------------------

/** `config`: the relay's `{ webhookUrl, engine }`, or Socket.IO's `{ redisUrl }`. */
async function child(kind, configJson) {
  const config = JSON.parse(configJson);
  let port;
  let close;
  if (kind === 'bare') {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('error', () => {});
    });
    port = wss.address().port;
    close = () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      });
  } else if (kind === 'socketio') {
    const { startSocketIoServer } = await import(new URL('socketio-server.mjs', BENCH_PACKAGE));
    ({ port, close } = await startSocketIoServer({ redisUrl: config.redisUrl }));
  } else {
    const { buildApp, LimitsConfig } = await import('../packages/relay/dist/index.js');
    const app = buildApp(benchConfig(config.webhookUrl, config.engine, LimitsConfig, config.webhookBatch));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = app.server.address().port;
    close = () => app.close();
  }
  const gc = globalThis.gc ?? (() => {});
  process.on('message', async (msg) => {
    if (msg.cmd === 'stats') {
      if (msg.gc) {
        // Twice, with a turn of the event loop between, so finalizers and weak refs settle.
        gc();
        await new Promise((r) => setTimeout(r, 50));
        gc();
      }
      process.send({ id: msg.id, cpu: process.cpuUsage(), mem: process.memoryUsage() });
    } else if (msg.cmd === 'close') {
      await close();
      process.send({ id: msg.id }, () => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true, port });
}

/** The relay as the bench runs it: one site, the given engine, webhooks to the local sink (batched when `webhookBatch` is above 1). */
function benchConfig(webhookUrl, engine, LimitsConfig, webhookBatch = 1) {
  return benchRelayConfig({
    engine,
    LimitsConfig,
    sites: [
      {
        siteKey: SITE_KEY,
        name: 'Bench Shop',
        allowedOrigins: [ORIGIN],
        webhookUrl,
        webhookSecret: 'whsec_' + Buffer.from('bench-webhook-secret-32-bytes-x!').toString('base64'),
        apiSecret: 'bench_api_secret_0123456789',
        webhookBatch,
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Parent: load generator, webhook sink, report.
// ---------------------------------------------------------------------------------------------

async function main() {
  const { values: args } = parseArgs({
    options: {
      connections: { type: 'string' },
      messages: { type: 'string' },
      seconds: { type: 'string' },
      clients: { type: 'string' },
      rounds: { type: 'string' },
      engines: { type: 'string', default: Object.keys(ENGINES).join(',') },
      scenarios: { type: 'string' },
      'redis-server': { type: 'string', default: 'redis-server' },
      'db-dir': { type: 'string' },
      quick: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      json: { type: 'boolean', default: false },
      save: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (args.help) {
    console.log(`node scripts/bench-relay.mjs [--engines LIST] [--scenarios LIST] [--rounds R] [--connections N] [--messages M] [--seconds S] [--clients K] [--quick] [--json] [--save FILE]

  --engines LIST   relay engines compared, comma-separated (default ${Object.keys(ENGINES).join(',')});
                   memory is always run: it is the baseline and the relay of the bare comparison
  --scenarios LIST scale-out scenarios, comma-separated (default ${DEFAULT_SCENARIOS.join(',')}; --quick ${QUICK_SCENARIOS.join(',')};
                   known: ${Object.keys(SCENARIOS).join(', ')}); memory is the relay above, always run;
                   each other one gets its own redis-server (appendonly yes, appendfsync everysec or always)
  --redis-server P the redis-server binary the Redis scenarios start (default redis-server, from PATH)
  --rounds R       times each latency and throughput figure is taken on each server, in turns (default ${DEFAULTS.rounds})
  --connections N  idle sockets held on bare and the memory relay for the memory figure (default ${DEFAULTS.connections})
  --messages M     sequential round trips per server per round for the latency figure, pooled over rounds (default ${DEFAULTS.messages})
  --seconds S      length of each throughput window (default ${DEFAULTS.seconds})
  --clients K      concurrent senders in the throughput window (default ${DEFAULTS.clients})
  --quick          smoke check: smaller defaults (${Object.entries(QUICK).map(([k, v]) => `${k} ${v}`).join(', ')}); flags still win
  --db-dir DIR     where the SQLite relays' temporary directories are made (default the OS temp dir)
  --json           print only the JSON result
  --save FILE      also write the JSON result to FILE (docs/bench/scale-out.json is the run
                   npm run bench puts in docs/benchmarks.md)
  --cpu-prof DIR   write a V8 CPU profile of each server process into DIR, as <server>-<n>.cpuprofile
Build first: npx tsc -b (and npm install, for packages/bench: Socket.IO and its Redis adapter)`);
    return;
  }
  const base = args.quick ? QUICK : DEFAULTS;
  const opts = {
    connections: positiveInt(args.connections ?? base.connections, '--connections'),
    messages: positiveInt(args.messages ?? base.messages, '--messages'),
    seconds: positiveNumber(args.seconds ?? base.seconds, '--seconds'),
    clients: positiveInt(args.clients ?? base.clients, '--clients'),
    rounds: positiveInt(args.rounds ?? base.rounds, '--rounds'),
    engines: parseEngines(args.engines),
    scenarios: parseScenarios(args.scenarios ?? (args.quick ? QUICK_SCENARIOS : DEFAULT_SCENARIOS).join(',')),
    ...(args.quick ? { quick: true } : {}),
  };
  const engines = opts.engines;
  /** The scale-out scenarios with servers of their own (`memory` is the memory relay of `engines`). */
  const scaleOut = opts.scenarios.filter((name) => name !== 'memory');
  /** Every server, in the order of a round; the next round runs them the other way. */
  const order = ['bare', ...engines, ...scaleOut];
  const quiet = args.json;
  const t00 = performance.now();
  const log = (line) => {
    if (!quiet) process.stderr.write(`[${((performance.now() - t00) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
  };

  const { default: WebSocket } = await import('ws');
  const sink = await startSink();
  /** Every child process spawned (the watchdog kills them), the servers that came up (closed at the end), and the redis-servers (stopped last). */
  const procs = [];
  const children = [];
  const redisServers = [];
  const tempDirs = [];
  const removeTempDirs = () => {
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  };
  const watchdog = setTimeout(() => {
    process.stderr.write('bench-relay: the run took too long; stopping.\n');
    for (const proc of procs) proc.kill('SIGKILL');
    removeTempDirs();
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  // Interrupted: the children (redis-servers included) go with this process, the temporary databases and AOFs too.
  const interrupted = (signal) => {
    for (const proc of procs) proc.kill('SIGKILL');
    removeTempDirs();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const dbDir = resolve(args['db-dir'] ?? tmpdir());
  const makeTempDir = () => {
    const dir = mkdtempSync(join(dbDir, 'parley-bench-'));
    tempDirs.push(dir);
    return dir;
  };

  const started = Date.now();
  let result;
  try {
    // What one commit costs on this disk, before any server runs: the figure the SQLite
    // relays' ack waits are made of.
    const sqlite = engines.filter((e) => ENGINES[e].config.type === 'sqlite');
    let commits;
    if (sqlite.length > 0) {
      log(`Timing one-row SQLite commits in ${dbDir}…`);
      commits = commitProbe(makeTempDir(), sqlite.map((e) => ENGINES[e].config.synchronous), args.quick ? 100 : 500);
      removeTempDirs();
    }

    log(
      `Starting the bare ws echo server, the relay on ${engines.map((e) => ENGINES[e].label).join(', ')}` +
        (scaleOut.length ? `, and ${scaleOut.map((n) => SCENARIOS[n].label).join('; ')}` : '') +
        ` (each server in its own process${scaleOut.length ? ', each Redis scenario on a redis-server of its own' : ''})…`,
    );
    const profile = (name, i) => (args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`, `--cpu-prof-name=${name}-${i + 1}.cpuprofile`] : []);
    const { startRedisServer } = scaleOut.length ? await import(new URL('redis-server.mjs', BENCH_PACKAGE)) : {};
    const { socketIoClient } = scaleOut.some((n) => SCENARIOS[n].kind === 'socketio') ? await import(new URL('socketio-client.mjs', BENCH_PACKAGE)) : {};
    /** One target's processes (its redis-server first); each one that comes up is registered for closing at once. */
    const startTarget = async (name) => {
      const up = (proc) => (children.push(proc), proc);
      if (name === 'bare') return { procs: [up(await startChild('bare', {}, profile(name, 0), procs))] };
      if (ENGINES[name]) {
        const engine = { ...ENGINES[name].config };
        if (engine.type === 'sqlite') engine.path = join(makeTempDir(), 'relay.db');
        return { procs: [up(await startChild('relay', { webhookUrl: sink.urlFor(name, 1), engine }, profile(name, 0), procs))] };
      }
      const scenario = SCENARIOS[name];
      const redis = await startRedisServer({ bin: args['redis-server'], dir: makeTempDir(), appendfsync: scenario.appendfsync, onProcess: (p) => procs.push(p) });
      redisServers.push(redis);
      const config = (i) =>
        scenario.kind === 'socketio'
          ? { redisUrl: redis.url }
          : { webhookUrl: sink.urlFor(name, i + 1), engine: { type: 'redis', url: redis.url, prefix: 'parley:' }, webhookBatch: scenario.webhookBatch };
      const started = await Promise.allSettled(Array.from({ length: scenario.processes }, (_, i) => startChild(scenario.kind, config(i), profile(name, i), procs).then(up)));
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      return { procs: started.map((r) => r.value), redis };
    };
    // All at once (start-up is not measured); every one that came up is closed, even if another failed.
    const ready = await Promise.allSettled(order.map(startTarget));
    const failed = ready.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const servers = {};
    const clients = {};
    for (const [i, name] of order.entries()) {
      const { procs: group, redis } = ready[i].value;
      servers[name] = serverGroup(group, redis);
      const ports = group.map((c) => c.port);
      if (name === 'bare') clients[name] = bareClient(WebSocket, ports[0]);
      else if (SCENARIOS[name]?.kind === 'socketio') clients[name] = socketIoClient({ ports, name, nextId: nextMessageId, body: MESSAGE_BODY });
      else clients[name] = relayClient(WebSocket, ports, sink, name);
    }
    /** The servers of round `i`: forwards, then backwards, so a drift of the machine during the run hits all alike. */
    const roundOrder = (i) => (i % 2 === 0 ? order : [...order].reverse());
    const label = (name) => (name === 'bare' ? 'bare' : ENGINES[name] ? `relay (${ENGINES[name].label})` : SCENARIOS[name].label);

    // Warm-up, first for connections only: open, greet and close some sockets, so lazy
    // initialisation is done before the memory baseline. Message traffic comes after the
    // memory figure, so the heap it grows and frees does not hide the growth being measured.
    log('Warming up connections…');
    for (const name of ['bare', 'memory']) {
      const warm = await openMany(clients[name], Math.min(200, opts.connections));
      closeAll(warm);
      await waitClosed(warm);
    }

    // (1) Connections held per GiB: bare against the relay on the memory engine.
    const memory = {};
    for (const name of ['bare', 'memory']) {
      log(`Memory: holding ${opts.connections} idle sockets on ${label(name)}…`);
      memory[name] = await idleMemory(clients[name], servers[name], opts.connections);
    }

    // Warm-up for messages: a burst of round trips and of load, so JIT compilation is done.
    log('Warming up messages…');
    for (const name of order) {
      await roundTrips(clients[name], Math.min(300, opts.messages));
      await throughput(clients[name], servers[name], Math.min(opts.clients, 20), Math.min(1, opts.seconds), sink);
    }
    await sink.drained(20_000);
    await sleep(300);

    // (2) Round-trip latency, sequential, in rounds; the samples of every round are pooled.
    const samples = Object.fromEntries(order.map((name) => [name, { acks: [], fanouts: [] }]));
    for (let i = 0; i < opts.rounds; i++) {
      for (const name of roundOrder(i)) {
        log(`Latency, round ${i + 1}/${opts.rounds}: ${opts.messages} sequential round trips on ${label(name)}…`);
        const r = await roundTrips(clients[name], opts.messages);
        samples[name].acks.push(...r.acks);
        samples[name].fanouts.push(...r.fanouts);
        // This relay's webhooks are delivered before the next server is measured.
        await sink.drained(60_000);
      }
    }
    const latency = Object.fromEntries(order.map((name) => [name, summariseLatency(samples[name], opts.rounds)]));

    // (3) Messages per CPU-second of the server, in rounds; the windows of every round are summed.
    const windows = Object.fromEntries(order.map((name) => [name, []]));
    for (let i = 0; i < opts.rounds; i++) {
      for (const name of roundOrder(i)) {
        log(`Throughput, round ${i + 1}/${opts.rounds}: ${opts.clients} senders for ${opts.seconds} s on ${label(name)}…`);
        windows[name].push(await throughput(clients[name], servers[name], opts.clients, opts.seconds, sink));
      }
    }
    const rate = Object.fromEntries(order.map((name) => [name, combineThroughput(windows[name])]));

    result = report(opts, memory, latency, rate, commits, dbDir, sink, Date.now() - started);
    result.scaleOut = scaleOutReport(opts, latency, rate, sink, clients, redisServers);
  } finally {
    for (const c of children) await c.close();
    for (const r of redisServers) await r.stop();
    removeTempDirs();
    await sink.close();
    clearTimeout(watchdog);
  }

  if (args.save) writeFileSync(args.save, `${JSON.stringify(result, null, 1)}\n`);
  if (quiet) console.log(JSON.stringify(result));
  else {
    console.log(table(result));
    if (result.engines) console.log(engineTable(result));
    if (result.scaleOut.scenarios.length > 1) console.log(scaleOutTable(result));
    console.log(JSON.stringify(result));
  }
  if (result.webhooks.received < result.webhooks.expected || result.webhooks.duplicates > 0) {
    process.stderr.write(`bench-relay: webhooks ${result.webhooks.received} of ${result.webhooks.expected} received, ${result.webhooks.duplicates} twice.\n`);
    process.exitCode = 1;
  }
  for (const [name, w] of Object.entries(result.webhooks.byServer)) {
    if (w.received !== w.expected || w.duplicates > 0) {
      process.stderr.write(`bench-relay: ${name}: webhooks ${w.received} of ${w.expected} received, ${w.duplicates} twice.\n`);
      process.exitCode = 1;
    }
  }
  for (const [name, s] of Object.entries(result.scaleOut.byScenario)) {
    if (s.seqErrors > 0) {
      process.stderr.write(`bench-relay: ${name}: ${s.seqErrors} acks out of sequence (or a fan-out with another seq).\n`);
      process.exitCode = 1;
    }
  }
}

/** `--engines a,b`: known names, no repeats, memory first (added when missing: it is the baseline). */
function parseEngines(value) {
  const names = value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!Object.hasOwn(ENGINES, name)) throw new Error(`--engines: unknown engine "${name}" (known: ${Object.keys(ENGINES).join(', ')})`);
  }
  return ['memory', ...new Set(names.filter((n) => n !== 'memory'))];
}

/** `--scenarios a,b`: known names, no repeats, memory first (added when missing: it is the baseline). */
function parseScenarios(value) {
  const names = value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!Object.hasOwn(SCENARIOS, name)) throw new Error(`--scenarios: unknown scenario "${name}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
  }
  return ['memory', ...new Set(names.filter((n) => n !== 'memory'))];
}

/**
 * What one commit costs on the disk of `dir`: `n` one-row transactions in a WAL database with
 * each `synchronous` setting, timed one by one (ms), with the CPU time they took.
 */
function commitProbe(dir, settings, n) {
  const require = createRequire(new URL('../packages/relay/package.json', import.meta.url));
  const Database = require('better-sqlite3');
  const out = {};
  for (const synchronous of settings) {
    const db = new Database(join(dir, `probe-${synchronous}.db`));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${synchronous}`);
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
      const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
      const commit = db.transaction((body) => insert.run(body));
      const times = [];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        commit(textOf(nextMessageId()));
        times.push(performance.now() - t0);
      }
      const cpu = process.cpuUsage(cpu0);
      times.sort((x, y) => x - y);
      out[synchronous] = {
        commits: n,
        p50: round(percentile(times, 0.5), 3),
        p99: round(percentile(times, 0.99), 3),
        cpuMsPerCommit: round((cpu.user + cpu.system) / 1000 / n, 3),
      };
    } finally {
      db.close();
    }
  }
  return out;
}

function positiveInt(value, name) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

function positiveNumber(value, name) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The merchant backend stand-in: answers every webhook 204 and counts the events, in all and per
 * server (each relay posts to `/webhooks/<server>/<instance>`, so the sink also sees which instance
 * of a server delivered each event). An event id seen twice is a duplicate, whoever delivered it.
 * A batch (`webhook-id` `batch_…`) is read, and each of its events counted; a single event is
 * counted by its `webhook-id` without reading the body.
 */
async function startSink() {
  let received = 0;
  let expected = 0;
  let duplicates = 0;
  const seen = new Set();
  const byServer = {};
  const of = (name) => (byServer[name] ??= { expected: 0, received: 0, duplicates: 0, byInstance: {} });
  const server = createServer((req, res) => {
    const id = String(req.headers['webhook-id']);
    const [, , name = '?', instance = '1'] = req.url.split('/');
    const counts = of(name);
    const count = (ids) => {
      for (const id of ids) {
        if (seen.has(id)) {
          duplicates++;
          counts.duplicates++;
        }
        seen.add(id);
      }
      received += ids.length;
      counts.received += ids.length;
      counts.byInstance[instance] = (counts.byInstance[instance] ?? 0) + ids.length;
      res.writeHead(204).end();
    };
    if (!id.startsWith('batch_')) {
      req.resume();
      req.on('end', () => count([id]));
      return;
    }
    const parts = [];
    req.on('data', (chunk) => parts.push(chunk));
    req.on('end', () => count(JSON.parse(Buffer.concat(parts).toString('utf8')).events.map((e) => e.id)));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}/webhooks`;
  return {
    /** The webhook URL of `instance` (1, 2, …) of server `name`. */
    urlFor: (name, instance) => `${base}/${name}/${instance}`,
    get received() {
      return received;
    },
    get expected() {
      return expected;
    },
    /** Deliveries of a webhook id already received. */
    get duplicates() {
      return duplicates;
    },
    /** Expected, received and duplicates per server, and received per instance. */
    get byServer() {
      return structuredClone(byServer);
    },
    /** Server `name` should send `n` more webhooks. */
    expect(n, name) {
      expected += n;
      of(name).expected += n;
    },
    /** Waits until every expected webhook has arrived (or `timeoutMs` passes); returns whether it did. */
    async drained(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (received < expected && Date.now() < deadline) await sleep(10);
      return received >= expected;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * Forks one server (`kind` bare, relay or socketio; `config` what `child` reads) and resolves once
 * it listens; `procs` gets the process at once.
 */
function startChild(kind, config, extraArgs, procs) {
  return forkServer(kind, fileURLToPath(import.meta.url), ['--child', kind, JSON.stringify(config)], { procs, execArgv: ['--expose-gc', ...extraArgs] });
}

/**
 * The processes of one measured server (one, or two sharing a Redis) as one: CPU time summed
 * (and per process), memory of the first; `redis` is the scenario's redis-server, if any.
 */
function serverGroup(procs, redis) {
  return {
    procs,
    redis,
    async stats(gc = false) {
      const all = await Promise.all(procs.map((p) => p.stats(gc)));
      const cpu = { user: 0, system: 0 };
      for (const s of all) {
        cpu.user += s.cpu.user;
        cpu.system += s.cpu.system;
      }
      return { cpu, mem: all[0].mem, byProcess: all.map((s) => s.cpu) };
    },
  };
}

// ---- clients ----------------------------------------------------------------------------------

function openSocket(WebSocket, url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin: ORIGIN, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

let idSeq = 0;
const nextMessageId = () => `b${(++idSeq).toString(36)}`;
/** What every message says, to every server. */
const MESSAGE_BODY = { type: 'text', text: 'Where is my order? It was #1001, shipped on Monday.' };
const textOf = (id) => JSON.stringify({ t: 'send', id, body: MESSAGE_BODY });

/**
 * The bare server's client: a socket is ready as soon as it opens; a "message" is the same
 * `send` frame the relay gets, and its reply is the echo.
 */
function bareClient(WebSocket, port) {
  const url = `ws://127.0.0.1:${port}/`;
  return {
    name: 'bare',
    async open() {
      const ws = await openSocket(WebSocket, url);
      ws.on('error', () => {});
      return { ws };
    },
    /** A pair for the latency figure; bare has no second socket, so `fanout` is absent. */
    async pair() {
      const a = await this.open();
      return { a, b: undefined };
    },
    conversations: 0,
    /** Send one message; resolves with {ack} timestamps. */
    roundTrip(conn) {
      return new Promise((resolve) => {
        const id = nextMessageId();
        const t0 = performance.now();
        conn.ws.once('message', () => resolve({ ack: performance.now() - t0 }));
        conn.ws.send(textOf(id));
      });
    },
    /** Keep sending on `conn` until `running()` is false; `count()` after each reply. */
    pump(conn, running, count) {
      return new Promise((resolve) => {
        const go = () => {
          if (!running()) {
            conn.ws.off('message', onReply);
            resolve();
            return;
          }
          conn.ws.send(textOf(nextMessageId()));
        };
        const onReply = () => {
          count();
          go();
        };
        conn.ws.on('message', onReply);
        go();
      });
    },
    webhooksFor: () => 0,
  };
}

/**
 * The relay's client: a socket is ready once `hello` got `welcome` (a conversation exists);
 * a message is `send`, its reply the `ack`, and the fan-out `msg` reaches a second socket of
 * the same conversation. With several relays (`ports`), each socket goes to the next one in turn:
 * no stickiness, and a pair's second socket resumes the conversation on another relay.
 */
function relayClient(WebSocket, ports, sink, name) {
  const urls = ports.map((port) => `ws://127.0.0.1:${port}/v1/widget`);
  let turn = 0;
  const started = new Set();
  return {
    name,
    /** Round trips whose ack seq was not the previous one + 1, or whose fan-out carried another seq. */
    seqErrors: 0,
    async open(token) {
      const ws = await openSocket(WebSocket, urls[turn++ % urls.length]);
      ws.on('error', () => {});
      const welcome = await new Promise((resolve, reject) => {
        ws.once('message', (data) => {
          const f = JSON.parse(data.toString());
          if (f.t === 'welcome') resolve(f);
          else reject(new Error(`hello refused: ${data.toString().slice(0, 200)}`));
        });
        ws.send(JSON.stringify({ t: 'hello', v: 1, siteKey: SITE_KEY, ...(token ? { token } : {}) }));
      });
      return { ws, conversationId: welcome.conversationId, token: welcome.token };
    },
    async pair() {
      const a = await this.open();
      const b = await this.open(a.token);
      return { a, b };
    },
    roundTrip(conn, other) {
      return new Promise((resolve) => {
        const id = nextMessageId();
        const t0 = performance.now();
        let ack;
        let fanout;
        let ackSeq;
        let fanoutSeq;
        const done = () => {
          if (ack === undefined || (other && fanout === undefined)) return;
          conn.ws.off('message', onA);
          other?.ws.off('message', onB);
          if ((conn.lastSeq !== undefined && ackSeq !== conn.lastSeq + 1) || (other && fanoutSeq !== ackSeq)) this.seqErrors++;
          conn.lastSeq = ackSeq;
          resolve({ ack, fanout });
        };
        const onA = (data) => {
          const f = JSON.parse(data.toString());
          if (f.t === 'ack' && f.id === id) {
            ack = performance.now() - t0;
            ackSeq = f.seq;
            done();
          }
        };
        const onB = (data) => {
          const f = JSON.parse(data.toString());
          if (f.t === 'msg' && f.id === id) {
            fanout = performance.now() - t0;
            fanoutSeq = f.seq;
            done();
          }
        };
        conn.ws.on('message', onA);
        other?.ws.on('message', onB);
        this.sent(conn);
        conn.ws.send(textOf(id));
      });
    },
    pump(conn, running, count) {
      return new Promise((resolve) => {
        const go = () => {
          if (!running()) {
            conn.ws.off('message', onFrame);
            resolve();
            return;
          }
          this.sent(conn);
          conn.ws.send(textOf(nextMessageId()));
        };
        const onFrame = (data) => {
          // The sender also gets its own message back as `msg`; the ack paces the sender.
          if (data.length > 10 && data[6] === 0x61 /* {"t":"a… */) {
            count();
            go();
          }
        };
        conn.ws.on('message', onFrame);
        go();
      });
    },
    /** Counts the webhooks a message will cause: conversation.started once, then message.created. */
    sent(conn) {
      const first = !started.has(conn.conversationId);
      started.add(conn.conversationId);
      sink.expect(first ? 2 : 1, name);
    },
  };
}

async function openMany(client, n) {
  const out = [];
  const batch = 100;
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    out.push(...(await Promise.all(Array.from({ length: size }, () => client.open()))));
  }
  return out;
}

/** Closes each connection: a `ws` socket (`c.ws`), or one with its own `close()` (Socket.IO). */
function closeAll(conns) {
  for (const c of conns) (c.close ? c.close() : c.ws.close());
}

async function waitClosed(conns) {
  await Promise.all(conns.map((c) => c.closed ?? (c.ws.readyState === 3 ? undefined : new Promise((r) => c.ws.once('close', r)))));
}

// ---- figures ---------------------------------------------------------------------------------

/** (1) Memory growth of the server process while it holds `n` idle, greeted sockets. */
async function idleMemory(client, server, n) {
  const before = (await server.stats(true)).mem;
  const t0 = performance.now();
  const conns = await openMany(client, n);
  const openMs = performance.now() - t0;
  await sleep(500);
  const after = (await server.stats(true)).mem;
  closeAll(conns);
  await waitClosed(conns);
  await sleep(300);
  const heapish = (m) => m.heapUsed + m.external;
  const rssPerConn = Math.max(1, (after.rss - before.rss) / n);
  const heapPerConn = Math.max(1, (heapish(after) - heapish(before)) / n);
  return {
    connections: n,
    openPerSec: Math.round(n / (openMs / 1000)),
    rssBefore: before.rss,
    rssAfter: after.rss,
    rssBytesPerConn: Math.round(rssPerConn),
    heapBytesPerConn: Math.round(heapPerConn),
    connsPerGiB: Math.round(GIB / rssPerConn),
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** (2) `m` sequential round trips on one socket (plus, for the relay, the fan-out to a second socket); the times in ms. */
async function roundTrips(client, m) {
  const { a, b } = await client.pair();
  const acks = [];
  const fanouts = [];
  for (let i = 0; i < m; i++) {
    const r = await client.roundTrip(a, b);
    acks.push(r.ack);
    if (r.fanout !== undefined) fanouts.push(r.fanout);
  }
  closeAll([a, ...(b ? [b] : [])]);
  return { acks, fanouts };
}

/** p50 / p99 of the pooled round trips of every round. */
function summariseLatency({ acks, fanouts }, rounds) {
  const sort = (xs) => [...xs].sort((x, y) => x - y);
  const a = sort(acks);
  const f = sort(fanouts);
  const ms = (x) => round(x, 3);
  return {
    messages: a.length,
    rounds,
    p50: ms(percentile(a, 0.5)),
    p99: ms(percentile(a, 0.99)),
    ...(f.length ? { fanoutP50: ms(percentile(f, 0.5)), fanoutP99: ms(percentile(f, 0.99)) } : {}),
  };
}

/**
 * (3) `k` senders on their own sockets (for the relay, their own conversations), each sending
 * the next message as soon as the previous one is acknowledged, for `seconds`. The server's CPU
 * time (summed over its processes) is read before and after; for the relay it runs until every
 * webhook of the window has reached the sink, so the figure includes the deliveries. On a Redis
 * scenario the redis-server's CPU time and `used_memory` are read at the same points. Returns
 * the raw window; see `combineThroughput`.
 */
async function throughput(client, server, k, seconds, sink) {
  const conns = await openMany(client, k);
  await sleep(200);
  const redis0 = await server.redis?.info();
  const stats0 = await server.stats();
  const cpu0 = stats0.cpu;
  const webhooks0 = sink.received;
  let count = 0;
  let running = true;
  const t0 = performance.now();
  const stop = setTimeout(() => (running = false), seconds * 1000);
  await Promise.all(
    conns.map((c) => {
      c.acked = 0;
      return client.pump(c, () => running, () => (count++, c.acked++));
    }),
  );
  clearTimeout(stop);
  const wall = (performance.now() - t0) / 1000;
  const statsWindow = await server.stats();
  const cpuWindow = statsWindow.cpu;
  const backlog = sink.expected - sink.received;
  const drainT0 = performance.now();
  const drained = await sink.drained(60_000);
  const drainMs = performance.now() - drainT0;
  const stats1 = drained && backlog > 0 ? await server.stats() : statsWindow;
  const cpu1 = stats1.cpu;
  const redis1 = await server.redis?.info();
  closeAll(conns);
  await waitClosed(conns);
  const cpuSec = (c, c0 = cpu0) => (c.user + c.system - c0.user - c0.system) / 1e6;
  return {
    ...(stats1.byProcess.length > 1 ? { cpuByProcess: stats1.byProcess.map((c, i) => cpuSec(c, stats0.byProcess[i])) } : {}),
    ...(redis0
      ? {
          redisCpu: redis1.cpuSec - redis0.cpuSec,
          redisMemoryDelta: redis1.usedMemory - redis0.usedMemory,
          // What the logs keep of the window: each conversation's entries, up to the retention cap.
          stored: SCENARIOS[client.name]?.kind === 'relay' ? conns.reduce((n, c) => n + Math.min(c.acked, RETENTION), 0) : 0,
        }
      : {}),
    clients: k,
    wall,
    messages: count,
    cpu: cpuSec(cpu1),
    cpuWindow: cpuSec(cpuWindow),
    webhooks: sink.received - webhooks0,
    backlog,
    drainMs,
    drained,
  };
}

/** The windows of every round as one figure: messages summed over CPU time summed; each round's figure beside it. */
function combineThroughput(windows) {
  const sum = (f) => windows.reduce((acc, w) => acc + f(w), 0);
  const messages = sum((w) => w.messages);
  const wall = sum((w) => w.wall);
  const cpu = sum((w) => w.cpu);
  const cpuWindow = sum((w) => w.cpuWindow);
  return {
    clients: windows[0].clients,
    rounds: windows.length,
    seconds: round(wall, 2),
    messages,
    msgsPerSec: Math.round(messages / wall),
    serverCpuSec: round(cpu, 3),
    serverCores: round(cpuWindow / wall, 2),
    msgsPerCpuSec: Math.round(messages / cpu),
    msgsPerCpuSecWindowOnly: Math.round(messages / cpuWindow),
    msgsPerCpuSecByRound: windows.map((w) => Math.round(w.messages / w.cpu)),
    webhooks: sum((w) => w.webhooks),
    webhookBacklogAtEnd: sum((w) => w.backlog),
    webhookDrainMs: Math.round(sum((w) => w.drainMs)),
    webhooksDrained: windows.every((w) => w.drained),
    ...(windows[0].cpuByProcess ? { cpuSecByProcess: windows[0].cpuByProcess.map((_, i) => round(sum((w) => w.cpuByProcess[i]), 3)) } : {}),
    ...(windows[0].redisCpu !== undefined
      ? {
          redisCpuSec: round(sum((w) => w.redisCpu), 3),
          redisCpuMsPerMsg: round((sum((w) => w.redisCpu) * 1000) / messages, 4),
          msgsPerCpuSecWithRedis: Math.round(messages / (cpu + sum((w) => w.redisCpu))),
          redisMemoryDelta: sum((w) => w.redisMemoryDelta),
          storedMessages: sum((w) => w.stored),
          ...(sum((w) => w.stored) > 0 ? { redisBytesPerStoredMsg: Math.round(sum((w) => w.redisMemoryDelta) / sum((w) => w.stored)) } : {}),
        }
      : {}),
  };
}

const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;
/** a / b to three significant figures. */
const ratio = (r, b) => Number((r / b).toPrecision(3));

function report(opts, memory, latency, rate, commits, dbDir, sink, elapsedMs) {
  const relay = { memory: memory.memory, latency: latency.memory, throughput: rate.memory };
  const sqlite = opts.engines.filter((e) => e !== 'memory');
  return {
    bench: 'relay-vs-bare-ws',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    options: opts,
    settings: {
      relayEngine: 'memory',
      relayLogs: 'silent',
      raisedLimits: 'limits.maxConnectionsPerIp, limits.newVisitorsPerIpPerMinute, limits.rateLimit, limits.restRateLimit, limits.idleTimeoutMs',
      webhookSink: 'local HTTP server answering 204',
      order: 'each round runs bare, then the relay on each engine; every other round in reverse',
      ...(sqlite.length ? { sqliteDir: dbDir, sqlite: 'WAL, a fresh temporary file per relay, removed after' } : {}),
    },
    ratios: {
      bytesPerConn: ratio(relay.memory.rssBytesPerConn, memory.bare.rssBytesPerConn),
      connsPerGiB: ratio(relay.memory.connsPerGiB, memory.bare.connsPerGiB),
      p50: ratio(relay.latency.p50, latency.bare.p50),
      p99: ratio(relay.latency.p99, latency.bare.p99),
      fanoutP50: ratio(relay.latency.fanoutP50, latency.bare.p50),
      fanoutP99: ratio(relay.latency.fanoutP99, latency.bare.p99),
      msgsPerCpuSec: ratio(relay.throughput.msgsPerCpuSec, rate.bare.msgsPerCpuSec),
    },
    bare: { memory: memory.bare, latency: latency.bare, throughput: rate.bare },
    relay,
    ...(sqlite.length
      ? {
          /** The relay on each engine: latency and throughput (memory's are the `relay` figures above). */
          engines: Object.fromEntries(opts.engines.map((e) => [e, { latency: latency[e], throughput: rate[e] }])),
          /** Each SQLite engine / memory. */
          engineRatios: Object.fromEntries(
            sqlite.map((e) => [
              e,
              {
                msgsPerCpuSec: ratio(rate[e].msgsPerCpuSec, rate.memory.msgsPerCpuSec),
                msgsPerSec: ratio(rate[e].msgsPerSec, rate.memory.msgsPerSec),
                p50: ratio(latency[e].p50, latency.memory.p50),
                p99: ratio(latency[e].p99, latency.memory.p99),
              },
            ]),
          ),
          commitProbe: commits,
        }
      : {}),
    webhooks: { received: sink.received, expected: sink.expected, duplicates: sink.duplicates, byServer: sink.byServer },
    elapsedSec: round(elapsedMs / 1000, 1),
  };
}

const num = (x) => (typeof x === 'number' ? x.toLocaleString('en-US') : String(x));

/** Rows as aligned text: the first column left, the others right; a rule under the header. */
function formatRows(rows) {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)];
}

function table(r) {
  const rows = [
    ['figure', 'bare ws', 'relay', 'relay/bare'],
    ['bytes per idle connection (RSS)', num(r.bare.memory.rssBytesPerConn), num(r.relay.memory.rssBytesPerConn), r.ratios.bytesPerConn],
    ['connections per GiB', num(r.bare.memory.connsPerGiB), num(r.relay.memory.connsPerGiB), r.ratios.connsPerGiB],
    ['  (heap+external bytes per conn)', num(r.bare.memory.heapBytesPerConn), num(r.relay.memory.heapBytesPerConn), ratio(r.relay.memory.heapBytesPerConn, r.bare.memory.heapBytesPerConn)],
    ['round trip p50, ms (echo / ack)', r.bare.latency.p50, r.relay.latency.p50, r.ratios.p50],
    ['round trip p99, ms (echo / ack)', r.bare.latency.p99, r.relay.latency.p99, r.ratios.p99],
    ['fan-out to 2nd socket p50, ms', '(echo)', r.relay.latency.fanoutP50, r.ratios.fanoutP50],
    ['fan-out to 2nd socket p99, ms', '(echo)', r.relay.latency.fanoutP99, r.ratios.fanoutP99],
    ['messages per CPU-second (per core)', num(r.bare.throughput.msgsPerCpuSec), num(r.relay.throughput.msgsPerCpuSec), r.ratios.msgsPerCpuSec],
    ['  (each round)', r.bare.throughput.msgsPerCpuSecByRound.map(num).join(' / '), r.relay.throughput.msgsPerCpuSecByRound.map(num).join(' / '), ''],
    ['  (per CPU-second, window only)', num(r.bare.throughput.msgsPerCpuSecWindowOnly), num(r.relay.throughput.msgsPerCpuSecWindowOnly), ratio(r.relay.throughput.msgsPerCpuSecWindowOnly, r.bare.throughput.msgsPerCpuSecWindowOnly)],
    ['  (messages per second, wall)', num(r.bare.throughput.msgsPerSec), num(r.relay.throughput.msgsPerSec), ratio(r.relay.throughput.msgsPerSec, r.bare.throughput.msgsPerSec)],
    ['  (server cores busy in window)', r.bare.throughput.serverCores, r.relay.throughput.serverCores, ''],
  ];
  const t = r.relay.throughput;
  const o = r.options;
  return [
    '',
    `Parley relay vs bare ws echo — ${r.platform}, Node ${r.node}, same machine, same run (${r.elapsedSec} s in all).`,
    `Relay: memory engine, logs silent; raised for the bench: per-IP connection cap and new-visitor rate, socket and REST rate limits, idle timeout.`,
    `${o.rounds} round(s), each server in turn (every other round reversed): ${o.messages} round trips and a ${o.seconds} s window of ${o.clients} senders per round; pooled.`,
    `Webhooks go to a local sink answering 204: ${t.webhooks} from the relay's throughput windows` +
      (t.webhookBacklogAtEnd > 0 ? `, ${t.webhookBacklogAtEnd} still queued at their ends (drained in ${t.webhookDrainMs} ms in all, counted in the CPU time)` : '') +
      (t.webhooksDrained ? '' : ' — NOT all delivered'),
    '',
    ...formatRows(rows),
    '',
    "Ratios are the figures that count; absolute numbers are this machine's and noisy.",
    '',
  ].join('\n');
}

/** The relay on each engine, side by side, with each SQLite engine's ratios to memory. */
function engineTable(r) {
  const names = Object.keys(r.engines);
  const e = (name) => r.engines[name];
  const row = (label, f) => [label, ...names.map((n) => f(e(n)))];
  const rows = [
    ['figure', ...names.map((n) => ENGINES[n].label)],
    row('messages per CPU-second', (x) => num(x.throughput.msgsPerCpuSec)),
    row('  (each round)', (x) => x.throughput.msgsPerCpuSecByRound.map(num).join(' / ')),
    row('  (window CPU only)', (x) => num(x.throughput.msgsPerCpuSecWindowOnly)),
    row('  (messages per second, wall)', (x) => num(x.throughput.msgsPerSec)),
    row('  (server cores busy in window)', (x) => x.throughput.serverCores),
    row('round trip p50, ms (send → ack)', (x) => x.latency.p50),
    row('round trip p99, ms (send → ack)', (x) => x.latency.p99),
  ];
  const probe = r.commitProbe
    ? Object.entries(r.commitProbe).map(([sync, c]) => `${sync} p50 ${c.p50} ms, p99 ${c.p99} ms, ${c.cpuMsPerCommit} ms CPU`)
    : [];
  const ratios = Object.entries(r.engineRatios).map(
    ([name, q]) =>
      `${ENGINES[name].label} / memory: ${q.msgsPerCpuSec}× messages per CPU-second (${q.msgsPerSec}× per wall second), p50 ${q.p50}×, p99 ${q.p99}×`,
  );
  return [
    `Engines — the relay on ${names.map((n) => ENGINES[n].label).join(', ')}, same run, in turns. SQLite: WAL, a fresh file in ${r.settings.sqliteDir} per relay.`,
    ...(probe.length ? [`One-row commit on that disk (${Object.values(r.commitProbe)[0].commits} each): ${probe.join('; ')}.`] : []),
    '',
    ...formatRows(rows),
    '',
    ...ratios,
    '',
  ].join('\n');
}

/** The ratios the scale-out section reports, as [numerator, denominator]; those of scenarios not run are left out. */
const SCALE_OUT_RATIOS = [
  ['redis-1', 'memory'],
  ['redis-2', 'redis-1'],
  ['socketio-2', 'socketio-1'],
  ['redis-1', 'socketio-1'],
  ['redis-2', 'socketio-2'],
  ['redis-1-always', 'redis-1'],
  ['redis-2-always', 'redis-2'],
  ['redis-1-always', 'socketio-1'],
  ['redis-2-always', 'socketio-2'],
  ['redis-1-batch', 'redis-1'],
  ['redis-1-batch', 'socketio-1'],
  ['redis-2-batch', 'socketio-2'],
];

/** The scale-out scenarios side by side: throughput, latency, Redis's share, webhooks per instance; and their ratios. */
function scaleOutReport(opts, latency, rate, sink, clients, redisServers) {
  const webhooks = sink.byServer;
  const scenarios = Object.fromEntries(
    opts.scenarios.map((name) => {
      const sc = SCENARIOS[name];
      const t = rate[name];
      const l = latency[name];
      return [
        name,
        {
          label: sc.label,
          server: sc.kind === 'relay' ? 'parley-relay' : 'socket.io',
          processes: sc.processes,
          ...(sc.appendfsync ? { appendfsync: sc.appendfsync } : {}),
          msgsPerCpuSec: t.msgsPerCpuSec,
          msgsPerCpuSecByRound: t.msgsPerCpuSecByRound,
          msgsPerCpuSecWindowOnly: t.msgsPerCpuSecWindowOnly,
          msgsPerSec: t.msgsPerSec,
          p50: l.p50,
          p99: l.p99,
          fanoutP50: l.fanoutP50,
          fanoutP99: l.fanoutP99,
          serverCores: t.serverCores,
          ...(t.cpuSecByProcess ? { cpuSecByProcess: t.cpuSecByProcess } : {}),
          ...(t.redisCpuSec !== undefined
            ? {
                redisCpuMsPerMsg: t.redisCpuMsPerMsg,
                msgsPerCpuSecWithRedis: t.msgsPerCpuSecWithRedis,
                redisMemoryDelta: t.redisMemoryDelta,
                storedMessages: t.storedMessages,
                ...(t.redisBytesPerStoredMsg !== undefined ? { redisBytesPerStoredMsg: t.redisBytesPerStoredMsg } : {}),
              }
            : {}),
          ...(sc.kind === 'relay' ? { webhooks: webhooks[name], seqErrors: clients[name].seqErrors } : {}),
        },
      ];
    }),
  );
  const ratios = {};
  for (const [a, b] of SCALE_OUT_RATIOS) {
    const x = scenarios[a];
    const y = scenarios[b];
    if (!x || !y) continue;
    ratios[`${a} / ${b}`] = {
      msgsPerCpuSec: ratio(x.msgsPerCpuSec, y.msgsPerCpuSec),
      msgsPerSec: ratio(x.msgsPerSec, y.msgsPerSec),
      p50: ratio(x.p50, y.p50),
      p99: ratio(x.p99, y.p99),
    };
  }
  return {
    scenarios: opts.scenarios,
    settings: {
      redis: redisServers.length ? `redis-server ${redisServers[0].version}, one per scenario on 127.0.0.1 (a spare port, a scratch directory), appendonly yes, no RDB snapshots, appendfsync per scenario` : undefined,
      relay: "engine { type: 'redis', prefix: 'parley:' }, the bench's relay settings otherwise; each instance posts webhooks to its own path of the sink",
      socketio: "socket.io 4 + @socket.io/redis-adapter (ioredis), WebSocket transport only; 'send' broadcasts to the conversation's room and acks: no log, no seq, no webhook",
      clients: 'each socket to the next server process in turn; a latency pair has its two sockets on different processes when there are two',
    },
    byScenario: scenarios,
    ratios,
  };
}

function scaleOutTable(r) {
  const so = r.scaleOut;
  const x = (name) => so.byScenario[name];
  const rows = [
    ['scenario', 'msgs/server CPU-s', '(each round)', '(window CPU only)', 'msgs/s wall', 'p50 ms', 'p99 ms', 'fan-out p50/p99 ms', 'cores busy', 'Redis CPU ms/msg', 'msgs/CPU-s incl. Redis', 'Redis B/stored msg'],
    ...so.scenarios.map((name) => {
      const s = x(name);
      return [
        s.label,
        num(s.msgsPerCpuSec),
        s.msgsPerCpuSecByRound.map(num).join(' / '),
        num(s.msgsPerCpuSecWindowOnly),
        num(s.msgsPerSec),
        s.p50,
        s.p99,
        `${s.fanoutP50} / ${s.fanoutP99}`,
        s.serverCores,
        s.redisCpuMsPerMsg ?? '—',
        s.msgsPerCpuSecWithRedis !== undefined ? num(s.msgsPerCpuSecWithRedis) : '—',
        s.redisBytesPerStoredMsg !== undefined ? num(s.redisBytesPerStoredMsg) : s.redisMemoryDelta !== undefined ? `(Δ ${num(s.redisMemoryDelta)} B)` : '—',
      ];
    }),
  ];
  const ratios = Object.entries(so.ratios).map(
    ([pair, q]) => `${pair}: ${q.msgsPerCpuSec}× messages per server CPU-second (${q.msgsPerSec}× per wall second), p50 ${q.p50}×, p99 ${q.p99}×`,
  );
  const hooks = so.scenarios
    .filter((name) => x(name).webhooks)
    .map((name) => {
      const w = x(name).webhooks;
      const split = Object.entries(w.byInstance).map(([i, n]) => `relay ${i}: ${num(n)}`).join(', ');
      return `${name}: ${num(w.received)} of ${num(w.expected)} webhooks received, ${w.duplicates} twice (${split}); ${x(name).seqErrors} acks out of sequence`;
    });
  return [
    `Scale-out on Redis — ${so.settings.redis ?? 'no Redis scenario'}.`,
    `Socket.IO: ${so.settings.socketio}. Clients: ${so.settings.clients}.`,
    '',
    ...formatRows(rows),
    '',
    ...ratios,
    '',
    ...hooks,
    '',
  ].join('\n');
}

// Last, so every module-level constant above is initialised first.
if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await main();
