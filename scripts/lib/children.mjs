// Child processes the crash and chaos runs kill on purpose: the relay CLI and redis-server.
// Each runs in its own process group (so `kill -9` takes the whole group), its output is
// counted by level, and an exit nobody asked for is recorded as a finding.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { count, sleep } from './util.mjs';

/**
 * A child process in its own group. `ready()` is polled after each start until it resolves
 * true; `parse(line)` turns an output line into `{ level, msg }` (pino levels: 40 warn, 50 error).
 */
function childProcess({ name, command, args, cwd, env, ready, parse }) {
  const log = { warn: 0, error: 0, messages: new Map(), tail: [], unexpectedExits: [] };
  let child;
  let exited;
  let killing = false;
  const onLine = (line) => {
    if (!line.trim()) return;
    const { level, msg } = parse(line);
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
  const running = () => child && child.exitCode === null && child.signalCode === null;
  return {
    name,
    log,
    get pid() {
      return child?.pid;
    },
    running,
    async start(timeoutMs = 20_000) {
      child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const c = child;
      c.stdout.on('data', reader());
      c.stderr.on('data', reader());
      exited = new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
      // A child that dies on its own (not killed here) is a finding: it is reported, and fails the run.
      void exited.then(({ code, signal }) => {
        if (!killing && c === child) log.unexpectedExits.push(`${code ?? signal}: ${log.tail.slice(-5).join(' | ')}`);
      });
      let gone;
      void exited.then((e) => (gone = e));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (gone) throw new Error(`${name} exited while starting (${gone.code ?? gone.signal}):\n${log.tail.join('\n')}`);
        if (await ready()) return;
        if (Date.now() > deadline) throw new Error(`${name} did not become ready in ${timeoutMs} ms:\n${log.tail.join('\n')}`);
        await sleep(25);
      }
    },
    /** Signal the whole process group and wait for the exit; false when it was not running. */
    async kill(signal = 'SIGKILL') {
      if (!running()) return false;
      killing = true;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
      await exited;
      killing = false;
      return true;
    },
    /** SIGKILL, synchronous, for exit handlers. */
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

/** A pino line as `{ level, msg }`; anything else (a crash trace, console.error) counts as an error. */
function parsePino(line) {
  try {
    const j = JSON.parse(line);
    let msg = j.msg ?? line;
    if (j.err?.message) msg += `: ${j.err.message}`;
    if (j.code) msg += ` (${j.code})`;
    return { level: j.level ?? 30, msg };
  } catch {
    return { level: 60, msg: line };
  }
}

/** The relay CLI (`node <cli> --config <file>`) on `base`; ready when `/readyz` answers 200. */
export function relayProcess({ cli, cwd, configFile, base, name = 'the relay' }) {
  const env = { ...process.env };
  // The config file says everything; env variables would win over it.
  for (const k of ['PORT', 'HOST', 'PARLEY_DATA', 'PARLEY_CONFIG', 'PARLEY_ASSETS']) delete env[k];
  return childProcess({
    name,
    command: process.execPath,
    args: [cli, '--config', configFile],
    cwd,
    env,
    parse: parsePino,
    ready: () => isReady(base),
  });
}

/** Whether a relay's `/readyz` answers 200 now. */
export const isReady = (base) =>
  fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
    (r) => r.ok,
    () => false,
  );

/**
 * `redis-server` on 127.0.0.1:`port`, its AOF in `dir` and fsynced before every reply, no RDB
 * snapshots: a restart on the same dir replays everything it answered. Ready when it answers
 * PING with PONG (not LOADING).
 */
export function redisProcess({ bin = 'redis-server', host, port, dir }) {
  return childProcess({
    name: 'redis-server',
    command: bin,
    args: ['--port', String(port), '--bind', host, '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no', '--loglevel', 'warning'],
    cwd: dir,
    env: process.env,
    // redis-server logs "pid:role date time level msg" with level one of . - * #  (# = warning).
    parse: (line) => ({ level: / # /.test(line) ? 40 : 30, msg: line.replace(/^\d+:\w \d+ \w+ \d+ [\d:.]+ . /, '') }),
    ready: () => redisPing(host, port),
  });
}

/** True when Redis answers PING with +PONG within a second. */
function redisPing(host, port) {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let buf = '';
    const done = (ok) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), 1000);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    s.on('error', () => done(false));
  });
}

/** A relay's event loop delay since it started (prom-client's default metrics; a scrape resets them, so read once per process). */
export async function eventLoopDelay(base) {
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
