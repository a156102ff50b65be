#!/usr/bin/env node
// `npm run bench`: the relay measured side by side with a bare `ws` echo server, in the same
// run, on the same machine. Each server runs in its own child process so its memory and CPU
// time can be attributed to it; this process opens the client sockets and hosts the webhook
// sink. The ratios (relay / bare) are the figures that count; absolute numbers depend on the
// machine and its noise. Build first: `npx tsc -b`. See docs/benchmarks.md.
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ORIGIN = 'https://shop.example';
const SITE_KEY = 'pk_bench';
const GIB = 1024 ** 3;
/** Hard stop for the whole run, whatever the flags; children are killed with it. */
const WATCHDOG_MS = 10 * 60_000;

// ---------------------------------------------------------------------------------------------
// Child: one server (bare ws echo, or the relay) answering the parent over IPC.
// ---------------------------------------------------------------------------------------------

async function child(kind, webhookUrl) {
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
  } else {
    const { buildApp } = await import('../packages/relay/dist/index.js');
    const app = buildApp(benchConfig(webhookUrl));
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

/**
 * The relay as the bench runs it: one site, webhooks to the local sink, logs silent, and the
 * protections that would throttle a load generator on 127.0.0.1 raised.
 */
function benchConfig(webhookUrl) {
  return {
    tokenSecret: 'bench-token-secret-0123456789abcdef0123',
    engine: { type: 'memory' },
    logLevel: 'silent',
    host: '127.0.0.1',
    port: 0,
    limits: {
      // Every bench socket comes from 127.0.0.1.
      maxConnectionsPerIp: 1_000_000,
      // A load generator sends far faster than a visitor.
      rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
      restRateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
      // Idle sockets are held for the memory figure without pings.
      idleTimeoutMs: 30 * 60_000,
    },
    // The sink always answers 204; a long schedule keeps a hiccup from turning into a retry storm.
    webhooks: { retryScheduleMs: [60_000] },
    sites: [
      {
        siteKey: SITE_KEY,
        name: 'Bench Shop',
        allowedOrigins: [ORIGIN],
        webhookUrl,
        webhookSecret: 'whsec_' + Buffer.from('bench-webhook-secret-32-bytes-x!').toString('base64'),
        apiSecret: 'bench_api_secret_0123456789',
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Parent: load generator, webhook sink, report.
// ---------------------------------------------------------------------------------------------

async function main() {
  const { values: args } = parseArgs({
    options: {
      connections: { type: 'string', default: '2000' },
      messages: { type: 'string', default: '2000' },
      seconds: { type: 'string', default: '8' },
      clients: { type: 'string', default: '50' },
      'cpu-prof': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (args.help) {
    console.log(`node scripts/bench-relay.mjs [--connections N] [--messages M] [--seconds S] [--clients K] [--json]

  --connections N  idle sockets held on each server for the memory figure (default 2000)
  --messages M     sequential round trips for the latency figure (default 2000)
  --seconds S      length of the throughput window on each server (default 8)
  --clients K      concurrent senders in the throughput window (default 50)
  --json           print only the JSON result
  --cpu-prof DIR   write a V8 CPU profile of each server process into DIR
Build first: npx tsc -b`);
    return;
  }
  const opts = {
    connections: positiveInt(args.connections, '--connections'),
    messages: positiveInt(args.messages, '--messages'),
    seconds: positiveNumber(args.seconds, '--seconds'),
    clients: positiveInt(args.clients, '--clients'),
  };
  const quiet = args.json;
  const log = (line) => {
    if (!quiet) process.stderr.write(line + '\n');
  };

  const { default: WebSocket } = await import('ws');
  const sink = await startSink();
  const children = [];
  const watchdog = setTimeout(() => {
    process.stderr.write('bench-relay: the run took too long; stopping.\n');
    for (const c of children) c.proc.kill('SIGKILL');
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  const started = Date.now();
  let result;
  try {
    log('Starting the bare ws echo server and the relay (each in its own process)…');
    const profile = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] : [];
    const bare = await startChild('bare', sink.url, profile);
    children.push(bare);
    const relay = await startChild('relay', sink.url, profile);
    children.push(relay);
    const servers = { bare, relay };
    const clients = { bare: bareClient(WebSocket, bare.port), relay: relayClient(WebSocket, relay.port, sink) };

    // Warm-up, first for connections only: open, greet and close some sockets, so lazy
    // initialisation is done before the memory baseline. Message traffic comes after the
    // memory figure, so the heap it grows and frees does not hide the growth being measured.
    log('Warming up connections…');
    for (const name of ['bare', 'relay']) {
      const warm = await openMany(clients[name], Math.min(200, opts.connections));
      closeAll(warm);
      await waitClosed(warm);
    }

    // (1) Connections held per GiB.
    const memory = {};
    for (const name of ['bare', 'relay']) {
      log(`Memory: holding ${opts.connections} idle sockets on ${name}…`);
      memory[name] = await idleMemory(clients[name], servers[name], opts.connections);
    }

    // Warm-up for messages: a burst of round trips and of load, so JIT compilation is done.
    log('Warming up messages…');
    for (const name of ['bare', 'relay']) {
      await roundTrips(clients[name], Math.min(300, opts.messages));
      await throughput(clients[name], servers[name], Math.min(opts.clients, 20), Math.min(1, opts.seconds), sink);
    }
    await sink.drained(20_000);
    await sleep(300);

    // (2) Round-trip latency, sequential.
    const latency = {};
    for (const name of ['bare', 'relay']) {
      log(`Latency: ${opts.messages} sequential round trips on ${name}…`);
      latency[name] = await roundTrips(clients[name], opts.messages);
    }
    // The relay's webhooks from the round trips are delivered before the next figure starts.
    await sink.drained(60_000);

    // (3) Messages per CPU-second of the server.
    const rate = {};
    for (const name of ['bare', 'relay']) {
      log(`Throughput: ${opts.clients} senders for ${opts.seconds} s on ${name}…`);
      rate[name] = await throughput(clients[name], servers[name], opts.clients, opts.seconds, sink);
    }

    result = report(opts, memory, latency, rate, sink, Date.now() - started);
  } finally {
    for (const c of children) await c.close();
    await sink.close();
    clearTimeout(watchdog);
  }

  if (quiet) console.log(JSON.stringify(result));
  else {
    console.log(table(result));
    console.log(JSON.stringify(result));
  }
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

/** The merchant backend stand-in: answers every webhook 204 and counts them. */
async function startSink() {
  let received = 0;
  let expected = 0;
  let duplicates = 0;
  const seen = new Set();
  const server = createServer((req, res) => {
    const id = req.headers['webhook-id'];
    if (seen.has(id)) duplicates++;
    seen.add(id);
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/webhooks/parley`,
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
    /** The relay should send `n` more webhooks. */
    expect(n) {
      expected += n;
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

async function startChild(kind, webhookUrl, extraArgs = []) {
  const proc = fork(fileURLToPath(import.meta.url), ['--child', kind, webhookUrl], {
    execArgv: ['--expose-gc', ...extraArgs],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const waiting = new Map();
  const port = await new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${kind} server exited early (${code}); did you run npx tsc -b?`)));
    proc.on('message', (msg) => {
      if (msg.ready) resolve(msg.port);
      else waiting.get(msg.id)?.(msg);
    });
  });
  const call = (cmd, extra = {}) =>
    new Promise((resolve) => {
      const id = ++nextId;
      waiting.set(id, (msg) => {
        waiting.delete(id);
        resolve(msg);
      });
      proc.send({ id, cmd, ...extra });
    });
  let closed = false;
  return {
    kind,
    port,
    proc,
    /** CPU time (µs) and memory of the server process; `gc` collects garbage first. */
    stats: (gc = false) => call('stats', { gc }),
    async close() {
      if (closed) return;
      closed = true;
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      call('close');
      await exited;
      clearTimeout(timer);
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
const textOf = (id) => JSON.stringify({ t: 'send', id, body: { type: 'text', text: 'Where is my order? It was #1001, shipped on Monday.' } });

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
 * the same conversation.
 */
function relayClient(WebSocket, port, sink) {
  const url = `ws://127.0.0.1:${port}/v1/widget`;
  const started = new Set();
  return {
    name: 'relay',
    async open(token) {
      const ws = await openSocket(WebSocket, url);
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
        const done = () => {
          if (ack === undefined || (other && fanout === undefined)) return;
          conn.ws.off('message', onA);
          other?.ws.off('message', onB);
          resolve({ ack, fanout });
        };
        const onA = (data) => {
          const f = JSON.parse(data.toString());
          if (f.t === 'ack' && f.id === id) {
            ack = performance.now() - t0;
            done();
          }
        };
        const onB = (data) => {
          const f = JSON.parse(data.toString());
          if (f.t === 'msg' && f.id === id) {
            fanout = performance.now() - t0;
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
      sink.expect(first ? 2 : 1);
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

function closeAll(conns) {
  for (const c of conns) c.ws.close();
}

async function waitClosed(conns) {
  await Promise.all(conns.map((c) => (c.ws.readyState === 3 ? undefined : new Promise((r) => c.ws.once('close', r)))));
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

/** (2) `m` sequential round trips on one socket (plus, for the relay, the fan-out to a second socket). */
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
  const sort = (xs) => xs.sort((x, y) => x - y);
  sort(acks);
  sort(fanouts);
  const ms = (x) => Math.round(x * 1000) / 1000;
  return {
    messages: m,
    p50: ms(percentile(acks, 0.5)),
    p99: ms(percentile(acks, 0.99)),
    ...(fanouts.length ? { fanoutP50: ms(percentile(fanouts, 0.5)), fanoutP99: ms(percentile(fanouts, 0.99)) } : {}),
  };
}

/**
 * (3) `k` senders on their own sockets (for the relay, their own conversations), each sending
 * the next message as soon as the previous one is acknowledged, for `seconds`. The server's CPU
 * time is read before and after; for the relay it runs until every webhook of the window has
 * reached the sink, so the figure includes the deliveries.
 */
async function throughput(client, server, k, seconds, sink) {
  const conns = await openMany(client, k);
  await sleep(200);
  const cpu0 = (await server.stats()).cpu;
  const webhooks0 = sink.received;
  let count = 0;
  let running = true;
  const t0 = performance.now();
  const stop = setTimeout(() => (running = false), seconds * 1000);
  await Promise.all(conns.map((c) => client.pump(c, () => running, () => count++)));
  clearTimeout(stop);
  const wall = (performance.now() - t0) / 1000;
  const cpuWindow = (await server.stats()).cpu;
  const backlog = sink.expected - sink.received;
  const drainT0 = performance.now();
  const drained = await sink.drained(60_000);
  const drainMs = performance.now() - drainT0;
  const cpu1 = drained && backlog > 0 ? (await server.stats()).cpu : cpuWindow;
  closeAll(conns);
  await waitClosed(conns);
  const cpuSec = (c) => (c.user + c.system - cpu0.user - cpu0.system) / 1e6;
  return {
    clients: k,
    seconds: round(wall, 2),
    messages: count,
    msgsPerSec: Math.round(count / wall),
    serverCpuSec: round(cpuSec(cpu1), 3),
    serverCores: round(cpuSec(cpuWindow) / wall, 2),
    msgsPerCpuSec: Math.round(count / cpuSec(cpu1)),
    msgsPerCpuSecWindowOnly: Math.round(count / cpuSec(cpuWindow)),
    webhooks: sink.received - webhooks0,
    webhookBacklogAtEnd: backlog,
    webhookDrainMs: Math.round(drainMs),
    webhooksDrained: drained,
  };
}

const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;
/** relay / bare to three significant figures. */
const ratio = (r, b) => Number((r / b).toPrecision(3));

function report(opts, memory, latency, rate, sink, elapsedMs) {
  return {
    bench: 'relay-vs-bare-ws',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    options: opts,
    settings: {
      relayEngine: 'memory',
      relayLogs: 'silent',
      raisedLimits: 'limits.maxConnectionsPerIp, limits.rateLimit, limits.restRateLimit, limits.idleTimeoutMs',
      webhookSink: 'local HTTP server answering 204',
    },
    ratios: {
      bytesPerConn: ratio(memory.relay.rssBytesPerConn, memory.bare.rssBytesPerConn),
      connsPerGiB: ratio(memory.relay.connsPerGiB, memory.bare.connsPerGiB),
      p50: ratio(latency.relay.p50, latency.bare.p50),
      p99: ratio(latency.relay.p99, latency.bare.p99),
      fanoutP50: ratio(latency.relay.fanoutP50, latency.bare.p50),
      fanoutP99: ratio(latency.relay.fanoutP99, latency.bare.p99),
      msgsPerCpuSec: ratio(rate.relay.msgsPerCpuSec, rate.bare.msgsPerCpuSec),
    },
    bare: { memory: memory.bare, latency: latency.bare, throughput: rate.bare },
    relay: { memory: memory.relay, latency: latency.relay, throughput: rate.relay },
    webhooks: { received: sink.received, expected: sink.expected, duplicates: sink.duplicates },
    elapsedSec: round(elapsedMs / 1000, 1),
  };
}

function table(r) {
  const n = (x) => (typeof x === 'number' ? x.toLocaleString('en-US') : String(x));
  const rows = [
    ['figure', 'bare ws', 'relay', 'relay/bare'],
    ['bytes per idle connection (RSS)', n(r.bare.memory.rssBytesPerConn), n(r.relay.memory.rssBytesPerConn), r.ratios.bytesPerConn],
    ['connections per GiB', n(r.bare.memory.connsPerGiB), n(r.relay.memory.connsPerGiB), r.ratios.connsPerGiB],
    ['  (heap+external bytes per conn)', n(r.bare.memory.heapBytesPerConn), n(r.relay.memory.heapBytesPerConn), ratio(r.relay.memory.heapBytesPerConn, r.bare.memory.heapBytesPerConn)],
    ['round trip p50, ms (echo / ack)', r.bare.latency.p50, r.relay.latency.p50, r.ratios.p50],
    ['round trip p99, ms (echo / ack)', r.bare.latency.p99, r.relay.latency.p99, r.ratios.p99],
    ['fan-out to 2nd socket p50, ms', '(echo)', r.relay.latency.fanoutP50, r.ratios.fanoutP50],
    ['fan-out to 2nd socket p99, ms', '(echo)', r.relay.latency.fanoutP99, r.ratios.fanoutP99],
    ['messages per CPU-second (per core)', n(r.bare.throughput.msgsPerCpuSec), n(r.relay.throughput.msgsPerCpuSec), r.ratios.msgsPerCpuSec],
    ['  (per CPU-second, window only)', n(r.bare.throughput.msgsPerCpuSecWindowOnly), n(r.relay.throughput.msgsPerCpuSecWindowOnly), ratio(r.relay.throughput.msgsPerCpuSecWindowOnly, r.bare.throughput.msgsPerCpuSecWindowOnly)],
    ['  (messages per second, wall)', n(r.bare.throughput.msgsPerSec), n(r.relay.throughput.msgsPerSec), ratio(r.relay.throughput.msgsPerSec, r.bare.throughput.msgsPerSec)],
    ['  (server cores busy in window)', r.bare.throughput.serverCores, r.relay.throughput.serverCores, ''],
  ].map((row) => row.map(String));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const t = r.relay.throughput;
  return [
    '',
    `Parley relay vs bare ws echo — ${r.platform}, Node ${r.node}, same machine, same run (${r.elapsedSec} s).`,
    `Relay: memory engine, logs silent; raised for the bench: per-IP connection cap, socket and REST rate limits, idle timeout.`,
    `Webhooks go to a local sink answering 204: ${t.webhooks} in the throughput window` +
      (t.webhookBacklogAtEnd > 0 ? `, ${t.webhookBacklogAtEnd} still queued at its end (drained in ${t.webhookDrainMs} ms, counted in the CPU time)` : '') +
      (t.webhooksDrained ? '' : ' — NOT all delivered'),
    '',
    line(rows[0]),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.slice(1).map(line),
    '',
    'Ratios are the figures that count; absolute numbers are this machine\'s and noisy.',
    '',
  ].join('\n');
}

// Last, so every module-level constant above is initialised first.
if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await main();
