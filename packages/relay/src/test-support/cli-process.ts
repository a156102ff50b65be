// The built CLI as a child process, the way operators start it. `npm test` builds first.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = fileURLToPath(new URL('../../../../', import.meta.url));
/** The built CLI. */
export const cli = join(root, 'packages/relay/dist/cli.js');

const children: ChildProcessWithoutNullStreams[] = [];

/** Throws unless the CLI is built (call in `beforeAll`). */
export function requireBuiltCli(): void {
  if (!existsSync(cli)) throw new Error('packages/relay/dist/cli.js is missing: run `npx tsc -b` (npm test does) first.');
}

/** A fresh SQLite file, so no test writes into the repository (or the image's `/data`). */
function dataFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'parley-data-')), 'parley.db');
}

/** Write a config object to a temp file and return its path. */
export function configFile(config: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'parley-config-')), 'relay.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/**
 * Start a command from the repository root, leading its own process group (`npx` runs the relay
 * as a grandchild, which killing `npx` alone would leave running). `PARLEY_DATA` defaults to a
 * fresh file. `killChildren` (in `afterEach`) kills every group.
 */
export function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, PARLEY_DATA: dataFile(), ...env }, detached: true });
  children.push(child);
  return child;
}

/** Kill every child started with `start`, with its group. */
export function killChildren(): void {
  for (const c of children.splice(0)) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Resolves with the relay's base URL once it logs that it listens (needs `logLevel` info or lower). */
export function listening(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`relay exited with ${code}: ${out.slice(-2000)}`)));
  });
}

/** Resolves with the exit code and everything the child printed. */
export function exited(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; output: string }> {
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}
