// Forks the bench's servers (server-process.mjs) and talks to them over IPC.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./server-process.mjs', import.meta.url));

/**
 * Forks one server and resolves once it listens. `procs` gets the process at once (for the
 * watchdog); `cpuProf` is `{ dir, name }` to write a V8 CPU profile when the process exits.
 */
export async function startServer(kind, config, { procs, cpuProf } = {}) {
  const execArgv = ['--expose-gc'];
  if (cpuProf) execArgv.push('--cpu-prof', `--cpu-prof-dir=${cpuProf.dir}`, `--cpu-prof-name=${cpuProf.name}`);
  return forkServer(kind, ENTRY, [kind, JSON.stringify(config)], { procs, execArgv });
}

/**
 * Forks `entry` with `args` as the server `kind` and resolves once it sends `{ready, port}`; it then
 * answers `{id, cmd}` messages (`stats`, `close`, its own commands) over IPC. Shared by both bench
 * scripts.
 */
export async function forkServer(kind, entry, args, { procs, execArgv = [] } = {}) {
  const proc = fork(entry, args, { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  procs?.push(proc);
  let nextId = 0;
  const waiting = new Map();
  const port = await new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${kind} server exited early (${code}); did you run npx tsc -b and npm install?`)));
    proc.on('message', (msg) => {
      if (msg.ready) resolve(msg.port);
      else waiting.get(msg.id)?.(msg);
    });
  });
  let closed = false;
  // A server that dies mid-run fails the call waiting on it instead of hanging the run.
  proc.once('exit', (code, signal) => {
    const error = new Error(`${kind} server exited during the run (${signal ?? code})`);
    for (const settle of waiting.values()) settle(undefined, error);
  });
  const call = (cmd, extra = {}) =>
    new Promise((resolve, reject) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`${kind} server is not running`));
      const id = ++nextId;
      // A server that stops answering fails the run instead of hanging it.
      const timer = setTimeout(() => waiting.get(id)?.(undefined, new Error(`${kind} server did not answer ${cmd} in 60 s`)), 60_000);
      waiting.set(id, (msg, error) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (error && !closed) reject(error);
        else if (msg?.error) reject(new Error(`${kind}: ${msg.error}`));
        else resolve(msg);
      });
      proc.send({ id, cmd, ...extra });
    });
  return {
    kind,
    port,
    proc,
    /** CPU time (µs), memory and (backend) counts of the process; `gc` collects garbage first. */
    stats: (gc = false) => call('stats', { gc }),
    /** A server-specific command (the backend's `connect`, …). */
    call: async (cmd, args) => (await call(cmd, { args })).value,
    /** Asks the server to close and waits for the exit (SIGKILL after 5 s). */
    async close() {
      if (closed) return;
      closed = true;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      call('close').catch(() => {});
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Seconds of CPU (user + system) between two `process.cpuUsage()` readings. */
export const cpuSeconds = (a, b) => (b.user + b.system - a.user - a.system) / 1e6;
