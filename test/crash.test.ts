// The crash test (scripts/crash-test.mjs) as part of `npm test`, which builds first: the built
// relay CLI is killed with SIGKILL twice while 50 widgets send, and nothing acked may be lost,
// shown twice or reordered.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const script = fileURLToPath(new URL('../scripts/crash-test.mjs', import.meta.url));
const cli = fileURLToPath(new URL('../packages/relay/dist/cli.js', import.meta.url));

let child: ChildProcess | undefined;

afterEach(async () => {
  // On a test timeout: SIGTERM lets the script kill its relay and remove its scratch directory.
  const c = child;
  child = undefined;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const c = spawn(process.execPath, [script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    c.once('exit', (code) => resolve({ code, output }));
  });
}

test('a relay killed twice with SIGKILL mid-stream loses, duplicates and reorders nothing it acked', { timeout: 90_000 }, async () => {
  if (!existsSync(cli)) throw new Error('packages/relay/dist/cli.js is missing: run `npx tsc -b` (npm test does) first.');
  const { code, output } = await run(['--widgets', '50', '--messages', '6', '--seed', '7', '--timeout-ms', '80000']);
  const line = output.split('\n').find((l) => l.startsWith('CRASH_SUMMARY '));
  expect(line, output).toBeDefined();
  const summary = JSON.parse(line!.slice('CRASH_SUMMARY '.length));
  // The printed summary, and the same figures as JSON.
  expect(output).toMatch(/^relay killed \(SIGKILL\): 2 times/m);
  expect(output).toMatch(/^lost: 0 /m);
  expect(output).toMatch(/^duplicated on screen: 0$/m);
  expect(output).toMatch(/^reordered: 0 /m);
  expect(summary).toMatchObject({ kills: 2, restarts: 2, sent: 300, acked: 300, duplicatedOnScreen: 0, duplicatedInHistory: 0, timedOut: false });
  expect(summary.lost.total, output).toBe(0);
  expect(summary.reordered.total, output).toBe(0);
  // Every visitor message reached the backend and its reply reached the screen, after the kills.
  expect(summary.webhooks.byType['message.created'], output).toBeGreaterThanOrEqual(300);
  expect(summary.replies).toMatchObject({ expected: 300, shown: 300, shownTwice: 0 });
  expect(summary.reconnects, output).toBeGreaterThanOrEqual(100); // each widget reconnected after each kill
  expect(code, output).toBe(0);
});
