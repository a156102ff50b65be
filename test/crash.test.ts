// The crash test (scripts/crash-test.mjs) as part of `npm test`, which builds first: the built
// relay CLI is killed with SIGKILL twice while 50 widgets send, and nothing acked may be lost,
// shown twice or reordered.
import { expect, test } from 'vitest';
import { requireBuiltRelay, scriptRunner } from './support/script-run.js';

const run = scriptRunner('crash-test.mjs');

test('a relay killed twice with SIGKILL mid-stream loses, duplicates and reorders nothing it acked', { timeout: 90_000 }, async () => {
  requireBuiltRelay();
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
