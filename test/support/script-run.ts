// Runs one of the repository's scripts (crash test, chaos run) as a child process for a test, and
// stops it cleanly if the test times out.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = fileURLToPath(new URL('../../packages/relay/dist/cli.js', import.meta.url));

/** Throws unless the relay CLI is built (`npm test` builds first). */
export function requireBuiltRelay(): void {
  if (!existsSync(cli)) throw new Error('packages/relay/dist/cli.js is missing: run `npx tsc -b` (npm test does) first.');
}

/**
 * A runner for `scripts/<name>`; registers an `afterEach` that, on a test timeout, sends SIGTERM
 * (the script then kills its own children and removes its scratch directory), then SIGKILL.
 */
export function scriptRunner(name: string): (args: string[]) => Promise<{ code: number | null; output: string }> {
  const script = fileURLToPath(new URL(`../../scripts/${name}`, import.meta.url));
  let child: ChildProcess | undefined;
  afterEach(async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return (args) =>
    new Promise((resolve) => {
      let output = '';
      const c = spawn(process.execPath, [script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      c.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      c.once('exit', (code) => resolve({ code, output }));
    });
}
