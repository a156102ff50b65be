// docs/benchmarks.md and its charts, written from one run's result: the template is here, every
// figure comes from the run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COLORS, barChart } from './charts.mjs';

const num = (x) => (x === null || x === undefined || Number.isNaN(x) ? '—' : typeof x === 'number' ? x.toLocaleString('en-US') : String(x));
const ms = (x) => (x === null || x === undefined ? '—' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));
const times = (x) => (x === null || x === undefined ? 'not measured' : `${x}×`);
const met = (m) => (m === true ? '**met**' : m === false ? '**not met**' : 'not measured');

/** Rows to a Markdown table; the first row is the header. */
function table(rows) {
  const [head, ...body] = rows;
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const colorOf = (key) => (key.startsWith('relay-socket') ? COLORS.parley : key.startsWith('relay') ? COLORS.parleyAlt : key === 'socketio' ? COLORS.socketio : COLORS.bare);

/**
 * Writes `<outDir>/benchmarks.md` and `<outDir>/bench/*.svg`; `jsonPath` is the JSON result,
 * relative to `outDir`. `saved` holds the latest saved runs of the other two scripts, when there
 * are any (`scaleOut`: `npm run bench:scale -- --save`, `chaos`: `npm run chaos -- --save`).
 */
export function writeReport(r, outDir, { jsonPath, saved = {} }) {
  const charts = {};
  const chart = (name, spec) => {
    writeFileSync(join(outDir, 'bench', `${name}.svg`), barChart(spec));
    charts[name] = `bench/${name}.svg`;
  };
  // Colour each bar by its server: one series per bar.
  const byServer = (name, spec, keys) => chart(name, { ...spec, series: keys.map((k) => ({ name: k, color: colorOf(k) })), legend: false });
  const pathGroups = (path, field) => Object.entries(path).map(([key, t], i) => ({ label: t.label, bars: [{ value: t[field], series: i }] }));
  const keysOf = (path) => Object.keys(path);
  byServer('bot-path', { title: 'Bot path: round trips per server CPU-second', note: `visitor → server → backend (HTTP keep-alive or backend socket) → reply → visitor; ${r.options.clients} concurrent visitors; higher is better`, groups: pathGroups(r.bot, 'perCpuSec') }, keysOf(r.bot));
  byServer('ack', { title: 'Send → ack: messages per server CPU-second', note: `${r.options.clients} concurrent visitors; the relay's CPU includes delivering each event to the backend; higher is better`, groups: pathGroups(r.ack, 'perCpuSec') }, keysOf(r.ack));
  chart('latency', {
    title: 'p50 and p99, ms (lower is better)',
    note: `${r.options.clients} concurrent visitors, every message of every round`,
    unit: 'ms',
    series: [
      { name: 'p50', color: COLORS.parleyAlt },
      { name: 'p99', color: COLORS.parley },
    ],
    groups: [
      ...Object.values(r.bot).map((t) => ({ label: `bot: ${t.label}`, bars: [{ value: t.p50, series: 0 }, { value: t.p99, series: 1 }] })),
      ...Object.values(r.ack).map((t) => ({ label: `ack: ${t.label}`, bars: [{ value: t.p50, series: 0 }, { value: t.p99, series: 1 }] })),
    ],
  });
  const memKeys = { bare: 'bare', socketio: 'socketio', relay: 'relay-socket' };
  const memLabel = { bare: 'bare ws', socketio: 'Socket.IO', relay: 'Parley relay' };
  byServer(
    'memory',
    {
      title: 'Idle memory per open connection, bytes (RSS; lower is better)',
      note: `${num(r.options.connections)} idle connections held on each server`,
      unit: 'B',
      groups: Object.keys(memLabel).map((k, i) => ({ label: memLabel[k], bars: [{ value: r.memory[k]?.rssBytesPerConn, series: i }] })),
    },
    Object.values(memKeys),
  );
  byServer(
    'catch-up',
    {
      title: `Catch-up: ${num(r.options.catchUp)} connections at once, p99 ms (lower is better)`,
      note: 'relay: reconnect, welcome and the message stored while away; peers: connect only',
      unit: 'ms',
      groups: Object.keys(memLabel).map((k, i) => ({ label: memLabel[k], bars: [{ value: r.catchUp[k]?.p99, series: i }] })),
    },
    Object.values(memKeys),
  );
  chart('listing', {
    title: 'GET /v1/conversations: every page, ms (p50; lower is better)',
    note: r.listing.some((l) => l.shape === 'paged') ? 'pages of 100 (?limit=100), walked with nextCursor' : 'one response each (no paging)',
    unit: 'ms',
    series: [{ name: 'walk', color: COLORS.parley }],
    groups: r.listing.map((l) => ({ label: `${num(l.conversations)} conversations`, bars: [{ value: l.walkP50, series: 0 }] })),
  });

  writeFileSync(join(outDir, 'benchmarks.md'), markdown(r, charts, jsonPath, saved));
}

function pathTable(path, noun) {
  return table([
    ['server', `${noun} per server CPU-second (each round)`, 'server CPU per message, µs', 'p50, ms', 'p99, ms', `${noun} per second, wall`, 'server cores busy', 'backend CPU per message, ms', 'server syscalls per message: write / read'],
    ...Object.values(path).map((t) => [
      t.label,
      `**${num(t.perCpuSec)}** (${t.perCpuSecByRound.map(num).join(' / ')})`,
      num(Math.round(1e6 / t.perCpuSec)),
      ms(t.p50),
      ms(t.p99),
      num(t.perSec),
      num(t.cores),
      ms(t.backendCpuMsPerMessage),
      t.writesPerMessage === undefined ? '—' : `${t.writesPerMessage.toFixed(2)} / ${t.readsPerMessage.toFixed(2)}`,
    ]),
  ]);
}

function markdown(r, charts, jsonPath, saved) {
  const o = r.options;
  const m = r.machine;
  const date = r.date.slice(0, 10);
  const img = (name, alt) => `![${alt}](${charts[name]})`;
  const w = r.widgetFigures;
  const sock = r.relay.backendSocket !== 'not in this build';
  const lines = [];
  const p = (...xs) => {
    for (const x of xs) lines.push(x, '');
  };

  p(
    '# Benchmarks',
    [
      'The relay measured side by side with a bare [`ws`](https://github.com/websockets/ws) server and with',
      '[Socket.IO](https://socket.io) 4, in one run, on one machine: idle memory per open widget, a',
      "visitor's send → ack, the bot path (visitor → server → backend over HTTP keep-alive → reply →",
      'visitor), catch-up of widgets reconnecting at once, `GET /v1/conversations`, where the relay',
      "spends its CPU, and the widget on the demo shop in Chromium. The **ratios** are the figures",
      'that count; absolute numbers depend on the machine and move from run to run.',
    ].join('\n'),
    [
      'This page is written by `npm run bench` (scripts/bench.mjs) from the run below; the figures are',
      `also in [${jsonPath}](${jsonPath}). The relay on Redis with one and two instances against`,
      'Socket.IO with its Redis adapter, and the chaos run, have scripts of their own (`npm run bench:scale`,',
      '`npm run chaos`): the latest runs they saved are summed up under the goals, and the method, the relay',
      'on each engine and the earlier runs are in [Scale-out, engines and chaos](benchmarks-scale-out.md).',
    ].join('\n'),
  );

  p(`## Results, ${date}`);
  p(
    [
      `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}; Node ${r.node}; ${r.date.replace('T', ' ').slice(0, 16)} UTC;`,
      `load average at the end ${m.loadAverage.join(', ')}. The run took ${r.elapsedSec} s: ${o.rounds} rounds of ${o.seconds} s load windows with`,
      `${o.clients} concurrent visitors per server and path, ${num(o.connections)} idle connections per server,`,
      `${num(o.catchUp)} widgets reconnecting at once${o.quick ? ' (`--quick`: a smoke check, not figures to quote)' : ''}. The relay runs the ${r.relay.engine} engine;`,
      sock ? `its backend socket is \`backendSocket: ${JSON.stringify(r.relay.backendSocket)}\` on the socket sites.` : '**this build of the relay has no backend socket: its figures are not measured.**',
    ].join('\n'),
  );

  p('### Goals', table([['goal', 'this run', ''], ...r.goals.map((g) => [g.goal, g.figure, met(g.met)])]));
  p(...savedRuns(saved));

  p('### Bot path', img('bot-path', 'Bot path: round trips per server CPU-second'), pathTable(r.bot, 'round trips'));
  p(
    [
      `- Parley over the backend socket / Socket.IO + undici: **${times(r.ratios.bot.socketVsSocketIo)}** round trips per server CPU-second, p99 ${times(r.ratios.bot.socketP99VsSocketIo)}.`,
      `- Parley over webhooks / Socket.IO + undici: **${times(r.ratios.bot.webhookVsSocketIo)}**, p99 ${times(r.ratios.bot.webhookP99VsSocketIo)}.`,
      `- Socket.IO + undici / bare ws + undici: ${times(r.ratios.bot.socketIoVsBare)}.`,
    ].join('\n'),
  );

  p('### Send → ack', img('ack', 'Send → ack: messages per server CPU-second'), pathTable(r.ack, 'messages'));
  p(
    [
      `- Parley, event over the backend socket / Socket.IO emit-with-ack: **${times(r.ratios.ack.socketVsSocketIo)}** messages per server CPU-second, p99 ${times(r.ratios.ack.socketP99VsSocketIo)}.`,
      `- Parley, event over a webhook / Socket.IO emit-with-ack: ${times(r.ratios.ack.webhookVsSocketIo)}, p99 ${times(r.ratios.ack.webhookP99VsSocketIo)}.`,
      `- Socket.IO / bare ws echo: ${times(r.ratios.ack.socketIoVsBare)}.`,
    ].join('\n'),
  );
  p(img('latency', 'p50 and p99 of both paths'));

  p(
    '### Idle memory per open widget',
    img('memory', 'Idle memory per open connection'),
    table([
      ['server', 'bytes per connection (RSS)', 'heap + external bytes per connection', 'connections opened per second'],
      ...[
        ['bare ws', r.memory.bare],
        ['Socket.IO', r.memory.socketio],
        ['Parley relay (open widget: `hello`, `welcome`)', r.memory.relay],
      ].map(([label, x]) => [label, `**${num(x.rssBytesPerConn)}**`, num(x.heapBytesPerConn), num(x.openPerSec)]),
    ]),
    `Parley / bare ws: **${times(r.ratios.idleMemory.relayVsBare)}**; Parley / Socket.IO: ${times(r.ratios.idleMemory.relayVsSocketIo)}.`,
  );

  p(
    `### Catch-up of ${num(o.catchUp)} widgets reconnecting at once`,
    img('catch-up', 'Catch-up p99'),
    table([
      ['server', 'what "ready" is', 'p50, ms', 'p99, ms', 'last, ms', 'server CPU, ms'],
      ['bare ws', 'socket open', ms(r.catchUp.bare.p50), ms(r.catchUp.bare.p99), ms(r.catchUp.bare.max), num(r.catchUp.bare.cpuMs)],
      ['Socket.IO', 'namespace connected', ms(r.catchUp.socketio.p50), ms(r.catchUp.socketio.p99), ms(r.catchUp.socketio.max), num(r.catchUp.socketio.cpuMs)],
      ['Parley relay', '`welcome`, and the reply stored while away received', ms(r.catchUp.relay.p50), ms(r.catchUp.relay.p99), ms(r.catchUp.relay.max), num(r.catchUp.relay.cpuMs)],
    ]),
  );

  p(
    '### `GET /v1/conversations`',
    img('listing', 'GET /v1/conversations'),
    table([
      ['conversations on the site', 'returned by a walk', 'pages', 'bytes', 'every page, p50 ms', 'first page, p50 ms', 'relay CPU per walk, ms'],
      ...r.listing.map((l) => [num(l.conversations), num(l.returned), num(l.pages), num(l.bytes), ms(l.walkP50), ms(l.firstPageP50), ms(l.cpuMsPerWalk)]),
    ]),
    r.listing.some((l) => l.returned < l.conversations)
      ? `A walk returned fewer conversations than the site holds: this build of the relay answers one response of at most ${num(Math.max(...r.listing.map((l) => l.returned)))} (no cursor).`
      : `Pages of 100 (\`?limit=100\`), following \`nextCursor\` until it is absent.`,
  );

  if (r.profile) {
    p(
      "### Where the relay's CPU goes",
      [
        `The top ${r.profile.top.length} functions by self time in a V8 CPU profile (\`--cpu-prof\`) of a relay of its own, driven by`,
        `${o.clients} visitors for ${o.profileSeconds} s on each path (${r.profile.paths.join('; ')}): the samples taken while`,
        `the load ran, ${num(r.profile.busyMs)} ms of samples not idle (the process used ${num(Math.round(r.profile.loadCpuSec * 1000))} ms of CPU by \`process.cpuUsage\`). The`,
        'profiler slows the relay down, so this relay is not the one measured above.',
      ].join('\n'),
      table([['function', 'where', 'self time, ms', 'share of busy time'], ...r.profile.top.map((f) => [`\`${f.function}\``, f.where ? `\`${f.where}\`` : '(native)', num(f.selfMs), `${f.share}%`])]),
    );
    if (r.profile.areas) {
      p(
        'The same samples by area (each function counted once, in the first area it fits):',
        table([['area', 'self time, ms', 'share of busy time'], ...r.profile.areas.map((x) => [x.area, num(x.selfMs), `${x.share}%`])]),
      );
    }
    missedGoals(r, p);
  }

  const sizes = table([
    ['bundle', 'raw', 'gzip', 'brotli', 'ceiling (brotli)'],
    ...r.bundles.map((b) => (b.missing ? [`\`${b.file}\``, 'not built', '', '', num(b.ceiling)] : [`\`${b.file}\``, num(b.raw), num(b.gzip), `**${num(b.brotli)}**`, num(b.ceiling)])),
  ]);
  if (w) {
    p(
      '### The widget on the demo shop in Chromium',
      table([
        ['figure', 'this run'],
        ['bytes before `load` (transferred)', num(w.bytesBeforeLoad)],
        ['requests before `load`', num(w.requestsBeforeLoad)],
        ['bytes and requests before the click (the widget loaded when idle)', `${num(w.bytesBeforeClick)} in ${num(w.requestsBeforeClick)}`],
        ['sockets opened before any click', num(w.socketsBeforeClick)],
        ["calls to the relay's API before any click", w.relayCallsBeforeClick.length ? w.relayCallsBeforeClick.map((u) => `\`GET ${u}\``).join(', ') : 'none'],
        ['long tasks before interaction', num(w.longTasks)],
        ['CLS', num(w.cls)],
        ['click to greeting visible, ms (median; worst)', `${ms(w.clickToGreetingMs)}; ${ms(w.clickToGreetingMaxMs)}`],
      ]),
      [
        `Measured by scripts/bench-widget.mjs (\`node scripts/bench-widget.mjs\` runs it alone): ${num(w.runs)} new visitors, each in a fresh`,
        'browser context on the demo shop (its own relay, backend and shop, memory engine), before the servers of the other',
        'figures start (a visitor\'s browser does not share its cores with a loaded relay); the worst of each figure but the',
        "click-to-greeting time (the median). \"No relay state\" is read from the traffic: no widget socket, and no call to the",
        "relay's API before the click but the site config read. The bundle sizes are the built files, compressed as",
        'test/size.test.ts does:',
      ].join('\n'),
      sizes,
    );
  } else {
    p(
      '### The widget',
      r.widget?.error ? `The widget in Chromium failed in this run: ${r.widget.error}` : 'The widget in Chromium was not measured in this run.',
      'Bundle sizes, the built files compressed as test/size.test.ts does:',
      sizes,
    );
  }

  p(
    '## Running it',
    [
      '```sh',
      'npm install        # packages/bench holds the peers: socket.io, socket.io-client, undici',
      'npm run build      # the bench runs the built relay, backend, widget and loader',
      `npm run bench      # writes docs/benchmarks.md, docs/bench/*.svg and docs/bench/results.json`,
      'npm run bench -- --quick          # smoke check of every path; writes to a temporary directory',
      'npm run bench -- --out /tmp/b --rounds 4 --seconds 10',
      '```',
    ].join('\n'),
    table([
      ['flag', 'default', 'what it scales'],
      ['`--rounds R`', '3', 'load windows per server and path, in turns, every other round in reverse order'],
      ['`--seconds S`', '5', 'length of each load window'],
      ['`--clients K`', '50', 'concurrent visitors in each load window'],
      ['`--connections N`', '10000', 'idle connections held on each server for the memory figure; also the largest listing'],
      ['`--catch-up W`', '1000', 'widgets reconnecting at once'],
      ['`--lists A,B,C`', '100,1000,10000', 'conversations of the sites `GET /v1/conversations` is timed on'],
      ['`--list-reps R`', '10', 'listings timed per site'],
      ['`--profile-seconds S`', '4', 'load per path on the profiled relay'],
      ['`--engine E`', 'memory', "the relay's engine: `memory`, `sqlite-full`, `sqlite-normal` (a scratch file)"],
      ['`--quick`', 'off', 'smaller figures, every path; flags still win'],
      ['`--out DIR`', '`docs/`', 'where `benchmarks.md` and `bench/` go (`--quick`: a temporary directory)'],
      ['`--json-out FILE`', '`<out>/bench/results.json`', 'the JSON result'],
      ['`--no-widget`', 'off', 'leave out the widget in Chromium'],
    ]),
    [
      `The run above took ${r.elapsedSec} s; \`--quick\` takes about half a minute on a machine like it.`,
      'Everything listens on 127.0.0.1, port 0. A watchdog ends the run after 12 minutes whatever the',
      'flags, and every child process is stopped at the end, on Ctrl-C and on failure. It is not part of',
      '`npm test`: speed goals are measured, not asserted.',
    ].join('\n'),
  );

  p(
    '## Method',
    [
      '- **Each server in its own process** (`child_process.fork`, `--expose-gc`), so memory and CPU time',
      '  are that server\'s alone: the bare `ws` server, Socket.IO, the relay, and the backend they all',
      '  talk to. The bench process opens the client sockets. CPU is `process.cpuUsage()` read in the',
      "  server's process over IPC before and after each window: per **server** CPU-second, so a load",
      '  generator that cannot keep up does not skew the figure. Client, servers and backend share the',
      "  machine's cores. On Linux each server also reads its read and write syscalls (`syscr`, `syscw`",
      '  of `/proc/self/io`: sockets, mostly) before and after each window, shown per message.',
      '- **In turns.** Every server is up for the whole run; each path is measured in rounds, a round',
      '  runs every server one after the other and the next round runs them in reverse order, so a slow',
      '  minute of the machine or a drift over the run hits all alike. Rounds are summed (messages over',
      '  CPU time) and latencies pooled. A short warm-up on every server comes first, so JIT',
      '  compilation is done.',
      '- **Load.** Each of the K visitors has its own socket (its own conversation) and sends its next',
      '  message as soon as the last one is done. Every message is timed from `send` to done: p50 and',
      '  p99 are over every message of every round (every time is kept and sorted: exact percentiles).',
      '- **Send → ack.** Done at the ack. The relay acks once the message is committed, then delivers',
      "  the `message.created` event to the backend; the relay's CPU is read once the backend has",
      '  every event of the window, so delivery is part of the figure. Socket.IO: `emit(\'send\', msg,',
      "  ack)`, broadcast to the conversation's room and acked; it keeps no log and sends nothing to a",
      '  backend. Bare ws: the echo of the same `send` frame.',
      '- **Bot path.** Done when the bot\'s reply reaches the visitor. The backend (one process, the same',
      '  for all) answers each visitor message with one reply message and checks nothing costly (no',
      '  signature). Parley over webhooks: the signed `message.created` POST, answered `200` with',
      '  `{"messages": [...]}` (an inline reply, appended and pushed to the widget at once). Parley over',
      '  the backend socket: the event pushed to `connectRelay`, whose `onEvent` returns the same',
      "  `{ messages }`. Socket.IO + undici and bare ws + undici: the server POSTs the same event's JSON",
      `  over an undici \`Pool\` (keep-alive, ${r.relay.peersPoolConnections} connections: the relay's \`webhooks.concurrency\`) and`,
      "  sends the reply to the visitor. Round trips per server CPU-second leave the backend's CPU out",
      '  (it is shown apart, per message).',
      '- **Idle memory.** N connections are opened to each server, one server after the other, and',
      "  left idle, on top of N / 10 opened just before (so the process is past its start-up state:",
      '  heap pages still to commit, a heap shrunk while idle, which would otherwise land in the growth',
      "  in amounts that change from run to run); the server process's RSS is read (after a full garbage",
      "  collection) before and after the N; the growth, less the growth of V8's young generation, over N",
      '  is the bytes per connection. The young generation is empty after the collection: V8 sizes it to',
      '  the allocation rate while the connections open (1 to 32 MB), not to what they hold, and it moved',
      '  the figure by up to 2.5 KB per connection from run to run (the raw growth is in results.json,',
      '  `rssRawBytesPerConn`). Once per server, before any message traffic: a',
      '  second pass would reuse memory the first one freed and show less growth. A relay connection',
      '  is an open widget: it has',
      '  sent `hello` and received `welcome`. A Socket.IO connection is connected to its namespace with',
      '  a conversation in `auth` and joined to that room; the bench speaks the Engine.IO protocol',
      "  itself for these (answering pings), so the load generator holds thousands of them; the server",
      '  holds what it holds for `socket.io-client`.',
      '- **Catch-up.** W widgets each send a message and disconnect; the backend posts a reply to each',
      '  conversation over REST; then all W reconnect at once with their token and last seq, and each is',
      "  timed until it has `welcome` and every message up to the `lastSeq` it announced. The peers'",
      '  figure is W connections at once, ready at open (bare) or namespace connect (Socket.IO): they',
      '  keep nothing to catch up on. Once per server.',
      `- **Listing.** Sites with ${r.listing.map((l) => num(l.conversations)).join(', ')} stored conversations (each visitor sent one`,
      `  message; the ${num(o.connections)} are the idle widgets of the memory figure). Each walk follows \`nextCursor\``,
      '  with `?limit=100` until it is absent.',
      '- **The relay as deployed**, with bench settings: logs `silent`; the per-IP connection caps (sockets',
      '  and plain HTTP), new-visitor rate, socket and REST rate limits raised (every bench socket comes from 127.0.0.1,',
      '  and a load generator sends far faster than a visitor); idle timeout 30 minutes; one webhook',
      '  retry step of 60 s.',
    ].join('\n'),
  );
  return lines.join('\n').replace(/\n+$/, '\n');
}

/**
 * For each throughput goal this run missed: Parley's server CPU per message against the budget the
 * goal allows, and the costs from the profile that make up the difference, with what would remove
 * each. The shares are the profile's (all four paths together).
 */
function missedGoals(r, p) {
  const goals = [
    { label: 'Bot path over the backend socket', path: r.bot, key: 'relay-socket', peer: 'socketio', factor: 1.5 },
    { label: 'Bot path over webhooks', path: r.bot, key: 'relay-webhook', peer: 'socketio', factor: 0.8 },
    { label: 'Send → ack, event over the backend socket', path: r.ack, key: 'relay-socket', peer: 'socketio', factor: 1 },
  ].filter((g) => g.path?.[g.key] && g.path?.[g.peer] && g.path[g.key].perCpuSec < g.factor * g.path[g.peer].perCpuSec);
  if (!goals.length) return;
  const us = (perCpuSec) => 1e6 / perCpuSec;
  const syscalls = (t) => (t?.writesPerMessage === undefined ? 'an unknown number of' : `${t.writesPerMessage.toFixed(1)} / ${t.readsPerMessage.toFixed(1)}`);
  const share = (pattern) => r.profile.areas?.find((a) => pattern.test(a.area))?.share ?? 0;
  p(
    '### The goals not met: the cost, and what would remove it',
    table([
      ['goal', 'Parley, server CPU per message, µs', 'Socket.IO, µs', 'the goal allows, µs', 'over by, µs'],
      ...goals.map((g) => {
        const mine = us(g.path[g.key].perCpuSec);
        const peer = us(g.path[g.peer].perCpuSec);
        const budget = peer / g.factor;
        return [`${g.label} ≥ ${g.factor}×`, num(Math.round(mine)), num(Math.round(peer)), num(Math.round(budget)), num(Math.round(mine - budget))];
      }),
    ]),
    [
      `- **Socket writes, ${share(/^socket writes/)}% of the busy time.** Over loopback a write costs the writer the kernel's`,
      '  whole delivery to the reader, waking it included, whatever its size (V8\'s profiler also puts some',
      '  of the time around a syscall on it). It is not where Parley loses: per round trip of the bot path',
      `  the relay makes ${syscalls(r.bot['relay-webhook'])} syscalls (write / read) over webhooks and ${syscalls(r.bot['relay-socket'])} over the backend socket, Socket.IO`,
      `  ${syscalls(r.bot.socketio)} (see the tables above). A widget gets its \`ack\` and its own \`msg\` in one write, then the reply;`,
      "  the events of every visitor frame read in one poll leave for the backend socket in one write, and",
      '  the backend answers them in one. The difference is the work between the syscalls, below.',
      `- **Garbage collection, ${share(/^garbage/)}%.** Each message makes a validated copy (zod), a stored entry`,
      '  (frozen, and copied out of the memory engine), an event with its job and lease, and its frames\'',
      '  JSON. Would remove part of it: a zod-free check of the hottest frames (`send`, the backend\'s `ack`)',
      "  kept equal to the schemas by property tests, as the widget's guard is; handing out the frozen",
      '  entry instead of a copy.',
      `- **The event queue, ${share(/^the event queue/)}%.** At-least-once delivery in each conversation's order:`,
      '  every event is enqueued with a deterministic id (SHA-256), claimed with a lease, and completed,',
      "  one event of a conversation at a time. Socket.IO's emit-with-ack keeps no queue at all. Would",
      "  remove part of it: claiming a conversation's next event in the step that completes the last (one",
      "  engine call where there are two), and letting a backend socket take a conversation's events as a",
      '  pipeline acked in order, rather than one round trip each (a refused event would then stop the',
      '  pipeline and send again from itself, the later ones deduplicated by their ids).',
      `- **The engine, ${share(/^the engine/)}%**: sequence numbers, the dedupe window, the log and its trim, the`,
      '  fan-out to the other tabs; the durable log the peers do not keep.',
      `- **Validation and JSON, ${share(/^validation/)}%; WebSocket framing and reading, ${share(/^WebSocket/)}%;`,
      `  the webhook client and its signature, ${share(/^HTTP/)}%.**`,
    ].join('\n'),
  );
}

/** The section on the latest saved scale-out and chaos runs (their own dates and machines), or a pointer to the scripts. */
function savedRuns({ scaleOut, chaos }) {
  const out = ['### Scale-out on Redis and chaos (the latest saved runs)'];
  const when = (date) => date.replace('T', ' ').slice(0, 16) + ' UTC';
  if (scaleOut?.scaleOut?.byScenario) {
    const so = scaleOut.scaleOut;
    const row = (key) => {
      const x = so.byScenario[key];
      return x ? [x.label, `**${num(x.msgsPerCpuSec)}**`, `${ms(x.p50)} / ${ms(x.p99)}`, x.redisCpuMsPerMsg === undefined ? '—' : ms(x.redisCpuMsPerMsg)] : null;
    };
    const rows = ['memory', 'redis-1', 'redis-2', 'redis-1-batch', 'redis-2-batch', 'socketio-1', 'socketio-2'].map(row).filter(Boolean);
    const ratio = (k) => so.ratios?.[k]?.msgsPerCpuSec;
    const one = ratio('redis-1 / socketio-1');
    const two = ratio('redis-2 / socketio-2');
    const oneBatched = ratio('redis-1-batch / socketio-1');
    const twoBatched = ratio('redis-2-batch / socketio-2');
    const met = (a, b) => a !== undefined && b !== undefined && a >= 1 && b >= 1;
    out.push(
      `\`npm run bench:scale -- --save docs/bench/scale-out.json\`, ${when(scaleOut.date)}, Node ${scaleOut.node} (${scaleOut.platform}); each scenario with a redis-server of its own, ${scaleOut.options.clients} senders, ${scaleOut.options.rounds} rounds of ${scaleOut.options.seconds} s:`,
      table([['scenario', 'messages per server CPU-second', 'p50 / p99, ms', 'Redis CPU per message, ms'], ...rows]),
      [
        `- Parley on Redis / Socket.IO + its Redis adapter: **${times(one)}** with one process, **${times(two)}** with two, each event its own webhook; **${times(oneBatched)}** and **${times(twoBatched)}** with the site's \`webhookBatch\` at 50. Goal (the scale-out issue): at least 1×, ${met(one, two) || met(oneBatched, twoBatched) ? '**met**' : '**not met**'}.`,
        `- Every webhook of every scenario received once: ${scaleOut.webhooks.received === scaleOut.webhooks.expected && scaleOut.webhooks.duplicates === 0 ? 'yes' : `**no** (${num(scaleOut.webhooks.received)} of ${num(scaleOut.webhooks.expected)}, ${num(scaleOut.webhooks.duplicates)} twice)`}.`,
      ].join('\n'),
    );
  } else {
    out.push('No saved scale-out run: `npm run bench:scale -- --save docs/bench/scale-out.json` writes one.');
  }
  if (chaos?.directions) {
    const d = chaos.directions;
    const c = chaos.catchUp ?? {};
    out.push(
      `\`npm run chaos -- --save docs/bench/chaos.json\`, ${when(chaos.date)}, Node ${chaos.node} (${chaos.platform}, ${chaos.cores} cores): ${num(chaos.widgets)} widgets × ${num(chaos.messagesPerWidget)} messages over ${chaos.relays} relays on one Redis${chaos.webhookBatch > 1 ? `, webhooks batched up to ${chaos.webhookBatch} events` : ''}; one relay killed with \`kill -9\` and restarted, Redis killed and restarted from its AOF, the backend down ${num(Math.round(((chaos.backendDown?.ms503 ?? 0) + (chaos.backendDown?.msClosed ?? 0)) / 1000))} s. Result: **${chaos.pass ? 'pass' : 'FAIL'}**.`,
      table([
        ['figure', 'visitor → backend', 'backend → visitor'],
        ['lost', `**${num(d.toBackend.lost)}**`, `**${num(d.toVisitor.lost)}**`],
        ['duplicated on screen', `**${num(d.toBackend.duplicatedOnScreen)}**`, `**${num(d.toVisitor.duplicatedOnScreen)}**`],
        ['reordered', `**${num(d.toBackend.reordered)}**`, `**${num(d.toVisitor.reordered)}**`],
        ['raw duplicates on the wire (allowed, at least once)', num(d.toBackend.rawDuplicates), num(d.toVisitor.rawDuplicates)],
      ]),
      `Catch-up after the kill (${num(c.widgets)} widgets: a new \`welcome\` and every message committed before the kill): p50 ${ms(c.p50Ms / 1000)} s, **p99 ${ms(c.p99Ms / 1000)} s** (goal: at most 2 s, ${c.p99Ms !== undefined && c.p99Ms <= 2000 ? '**met**' : '**not met**'}).`,
    );
  } else {
    out.push('No saved chaos run: `npm run chaos -- --save docs/bench/chaos.json` writes one.');
  }
  out.push('The method and the earlier runs: [Scale-out, engines and chaos](benchmarks-scale-out.md).');
  return out;
}
