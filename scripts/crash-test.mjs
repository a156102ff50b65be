#!/usr/bin/env node
// `npm run crash`: the relay's guarantees proven by killing it. The built relay CLI runs in a
// child process on a SQLite file; 50 widgets (the real @parley/client over `ws`, each with its
// own in-memory storage, as a browser profile keeps its token, outbox and lastSeq) and a
// recording merchant backend run in this process. Mid-stream the relay is killed with SIGKILL
// twice and restarted on the same port and database, and the backend is down for a while. At
// the end it counts what was lost, duplicated and reordered, in both directions, prints a
// summary (and one `CRASH_SUMMARY {json}` line) and exits 1 on any loss, on-screen duplicate
// or reordering, 2 when the run itself broke. Build first: npx tsc -b.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { replyId, startBackend } from './lib/backend.mjs';
import { eventLoopDelay, relayProcess } from './lib/children.mjs';
import { readHistories } from './lib/history.mjs';
import { relayConfig } from './lib/relay-config.mjs';
import { cleanUpOnExit, freePort, prng, secs, sleep } from './lib/util.mjs';
import { verdict } from './lib/verdict.mjs';
import { startWidget } from './lib/widget.mjs';

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
// The relay child process
// ---------------------------------------------------------------------------------------------

function crashRelayConfig(o, port, webhookUrl, dir) {
  return relayConfig({
    comment: 'written by scripts/crash-test.mjs',
    host: HOST,
    port,
    tokenSecret: 'crash-test-token-secret-0123456789abcdef',
    engine: o.engine === 'sqlite' ? { type: 'sqlite', path: join(dir, 'relay.db'), synchronous: o.synchronous } : { type: 'memory' },
    widgets: o.widgets,
    site: {
      siteKey: SITE_KEY,
      name: 'Crash Test Shop',
      allowedOrigins: [ORIGIN],
      webhookUrl,
      webhookSecret: WEBHOOK_SECRET,
      apiSecret: API_SECRET,
      greeting: { text: 'Hi! This relay gets killed twice.' },
    },
  });
}


// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

async function main() {
  const o = options();
  const random = prng(o.seed);
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
  const port = await freePort(HOST);
  const base = `http://${HOST}:${port}`;
  const widgets = [];
  let backend;
  let relay;

  cleanUpOnExit('crash-test', dir, () => {
    relay?.killNow();
  }, 'stopping the relay and leaving.');

  const watchdog = setTimeout(() => {
    console.error(`crash-test: the run took more than ${o.timeoutMs} ms; stopping.`);
    if (relay) console.error(relay.log.tail.slice(-10).join('\n'));
    process.exit(2);
  }, o.timeoutMs);
  watchdog.unref();

  backend = await startBackend({ host: HOST, webhookSecret: WEBHOOK_SECRET, apiSecret: API_SECRET, relayBase: () => base });
  const configFile = join(dir, 'relay.json');
  writeFileSync(configFile, JSON.stringify(crashRelayConfig(o, port, backend.url, dir), null, 2));
  relay = relayProcess({ cli: CLI, cwd: ROOT, configFile, base });
  await relay.start();

  // Every widget opens before the first message.
  for (let i = 0; i < o.widgets; i++) widgets.push(startWidget({ i, relays: [base], random, siteKey: SITE_KEY, origin: ORIGIN }));
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
  const shownIds = (w) => new Set(w.client.getSnapshot().timeline.map((item) => item.id));
  const webhookFor = () => new Set(backend.events.filter((e) => e.type === 'message.created').map((e) => e.messageId));
  const settled = () => {
    const hooks = webhookFor();
    for (const w of widgets) {
      if (w.client.getSnapshot().timeline.some((item) => item.kind === 'msg' && item.status === 'sending')) return false;
      const shown = shownIds(w);
      for (const s of w.sent) {
        if (w.failed.has(s.id) && !w.acked.has(s.id)) continue;
        if (!w.acked.has(s.id) || !hooks.has(s.id) || !shown.has(replyId(s.id))) return false;
      }
    }
    return backend.pendingReplies() === 0;
  };
  const settleDeadline = Date.now() + o.settleMs;
  while (!settled() && Date.now() < settleDeadline) await sleep(100);
  const settleMs = Date.now() - sendEnd;
  const timedOut = !settled();

  // ---- read what the relay stored ----
  const conversationIds = new Set();
  for (const w of widgets) {
    for (const c of w.conversations) conversationIds.add(c);
    for (const a of w.acked.values()) if (a.conversationId) conversationIds.add(a.conversationId);
  }
  for (const e of backend.events) conversationIds.add(e.conversationId);
  const history = await readHistories({ ids: conversationIds, baseFor: () => base, apiSecret: API_SECRET });

  // ---- checks ----
  const r = {
    widgets: o.widgets,
    messagesPerWidget: o.messages,
    seed: o.seed,
    engine: o.engine,
    synchronous: o.engine === 'sqlite' ? o.synchronous : undefined,
    kills: kills.filter((k) => k.killed).length,
    restarts: restarts.length,
    ...verdict({ widgets: widgets.map((w) => w.report()), history, backend }),
    relayLog: { warn: relay.log.warn, error: relay.log.error, unexpectedExits: relay.log.unexpectedExits, messages: Object.fromEntries([...relay.log.messages].sort((a, b) => b[1] - a[1]).slice(0, 10)) },
    timedOut,
    runMs: 0,
  };
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
    `lost: ${r.lost.total} (never acked ${r.lost.neverAcked}, acked but missing from history ${r.lost.ackedNotInHistory}, acked but not on screen ${r.lost.ackedNotOnScreen}, message.created never delivered ${r.lost.webhookNeverDelivered}, bot reply never shown ${r.lost.replyNeverShown}, bot reply missing from history ${r.lost.replyNotInHistory})`,
    `duplicated on screen: ${r.duplicatedOnScreen}`,
    `duplicated in history: ${r.duplicatedInHistory}`,
    `raw duplicates on the wire (allowed, at-least-once): ${r.rawDuplicates.msgFrames} msg frames to widgets, ${r.rawDuplicates.webhooks} webhook deliveries to the backend, ${r.rawDuplicates.restReplies} REST replies answered as duplicates`,
    `reordered: ${r.reordered.total} (timeline ${r.reordered.timeline}, history ${r.reordered.history}, own send order ${r.reordered.ownSendOrder}, ack seq ≠ stored seq ${r.reordered.ackSeqMismatch}, webhook order ${r.reordered.webhookOrder}, conversation.started not first ${r.reordered.startedNotFirst}, replies out of posting order ${r.reordered.replyOrder}, shown seq ≠ stored seq ${r.reordered.shownSeqMismatch})`,
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
