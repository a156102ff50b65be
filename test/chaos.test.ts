// The chaos run (scripts/chaos.mjs --short) as part of `npm test`, which builds first: three
// relay CLI processes on one redis-server, 120 widgets that reconnect to any relay, one relay
// killed with SIGKILL, redis-server killed and restarted from its AOF, the backend down for a
// while, webhooks batched up to 10 events; nothing acked may be lost, shown twice or reordered,
// in either direction.
import { spawnSync } from 'node:child_process';
import { expect, test } from 'vitest';
import { requireBuiltRelay, scriptRunner } from './support/script-run.js';

const run = scriptRunner('chaos.mjs');

/** How many lines of `output` match `re` (anchored with the m flag). */
const lines = (output: string, re: RegExp) => output.match(new RegExp(re.source, 'gm'))?.length ?? 0;

test('three relays on one redis survive a relay kill, a redis restart and a backend outage without loss, duplicates or reordering', { timeout: 150_000 }, async () => {
  requireBuiltRelay();
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not installed: the chaos run starts its own on a spare port.');
  // Batched webhooks: a failed batch must fail, retry and deliver every event in it, in order.
  const { code, output } = await run(['--short', '--seed', '1', '--webhook-batch', '10']);
  const line = output.split('\n').find((l) => l.startsWith('CHAOS_SUMMARY '));
  expect(line, output).toBeDefined();
  const summary = JSON.parse(line!.slice('CHAOS_SUMMARY '.length));

  // Both directions: visitor → backend and backend → visitor.
  expect(output).toMatch(/^visitor → backend/m);
  expect(output).toMatch(/^backend → visitor/m);
  expect(lines(output, /^ {2}lost: 0 /), output).toBe(2);
  expect(lines(output, /^ {2}duplicated on screen: 0$/), output).toBe(2);
  expect(lines(output, /^ {2}reordered: 0 /), output).toBe(2);

  // The faults happened: a relay was killed with widgets on it, redis-server restarted.
  expect(output).toMatch(/^relay killed \(SIGKILL\): relay \d at [\d.]+ s with [1-9]\d* widgets on it/m);
  expect(output).toMatch(/^redis restarted \(SIGKILL\): yes,/m);
  expect(summary.kill).toMatchObject({ killed: true, notBack: 0 });
  expect(summary.redisRestart).toMatchObject({ killed: true, relaysReady: true });
  expect(summary.backendDown.ms503 + summary.backendDown.msClosed).toBeGreaterThan(0);
  expect(output).toMatch(/^catch-up after the kill .*: p50 [\d.]+ s, p99 [\d.]+ s/m);
  expect(summary.catchUp.widgets).toBeGreaterThan(0);
  expect(summary.catchUp.notCaughtUp, output).toBe(0);

  // Every message went both ways, and widgets really moved between relays (no sticky sessions).
  expect(summary).toMatchObject({ widgets: 120, sent: 480, acked: 480, duplicatedOnScreen: 0, duplicatedInHistory: 0, timedOut: false });
  expect(summary.lost.total, output).toBe(0);
  expect(summary.reordered.total, output).toBe(0);
  expect(summary.webhooks.byType['message.created'], output).toBeGreaterThanOrEqual(480);
  expect(summary.webhooks.batches, output).toBeGreaterThan(0);
  expect(summary.webhooks.largestBatch, output).toBeLessThanOrEqual(10);
  expect(summary.replies).toMatchObject({ expected: 480, shown: 480, shownTwice: 0 });
  expect(summary.widgetsOnAnotherRelay).toBeGreaterThanOrEqual(summary.catchUp.widgets);
  expect(code, output).toBe(0);
});
