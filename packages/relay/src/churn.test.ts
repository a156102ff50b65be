// 10,000 widget sockets come and go against the built CLI in a child process: afterwards the
// relay holds no more descriptors than before, and its heap-backed RSS has not crept up.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '@parley/protocol';
import { cli, configFile, killChildren, listening, requireBuiltCli, start } from './test-support/cli-process.js';
import { ORIGIN, testConfig } from './test-support/harness.js';

const CONCURRENCY = 50;
const WARM_UP = 1_000;
const CYCLES = 10_000;
/** Descriptors the relay may hold above its baseline once every socket is gone (timers, an engine file, the inspector). */
const FD_SLACK = 5;
const RSS_DRIFT = 0.1;

let child: ReturnType<typeof start>;
let wsUrl: string;
let inspector: string;

beforeAll(async () => {
  requireBuiltCli();
  const config = testConfig('http://127.0.0.1:9/webhooks/parley', {
    logLevel: 'info',
    limits: { maxConnectionsPerIp: 10_000, newVisitorsPerIpPerMinute: 1_000_000, maxHttpConnectionsPerIp: 0 },
  });
  // The inspector is the way to force a GC in the child: nothing in the relay is there for the test.
  child = start(process.execPath, ['--inspect=127.0.0.1:0', cli, '--config', configFile(config)], { PORT: '0', HOST: '127.0.0.1' });
  const inspectorUrl = new Promise<string>((resolve) => {
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /Debugger listening on (ws:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
  });
  const base = await listening(child);
  wsUrl = base.replace('http', 'ws') + '/v1/widget';
  inspector = await inspectorUrl;
});

afterAll(killChildren);

/** Open a socket, say hello, wait for welcome, disconnect (cleanly, or by cutting the TCP connection). */
function cycle(abrupt: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { origin: ORIGIN });
    let welcomed = false;
    ws.on('error', () => {});
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' })));
    ws.on('message', (data) => {
      welcomed = (JSON.parse(data.toString()) as { t: string }).t === 'welcome';
      if (abrupt) ws.terminate();
      else ws.close();
    });
    ws.on('close', () => resolve(welcomed));
  });
}

/** `n` cycles, `CONCURRENCY` at a time; the number that got a welcome. */
async function churn(n: number): Promise<number> {
  let next = 0;
  let welcomed = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        if (await cycle(i % 10 === 0)) welcomed++;
      }
    }),
  );
  return welcomed;
}

const fds = () => readdirSync(`/proc/${child.pid}/fd`).length;
/** What each descriptor is (socket, pipe, file), for a failure message. */
const fdTargets = () =>
  readdirSync(`/proc/${child.pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${child.pid}/fd/${fd}`);
    } catch {
      return 'gone';
    }
  });
const rssKb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);

/** A full GC in the child, through the inspector protocol. */
function collectGarbage(): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(inspector);
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
    ws.on('message', (data) => {
      if ((JSON.parse(data.toString()) as { id?: number }).id === 1) {
        ws.close();
        resolve();
      }
    });
  });
}

/** RSS after idling and forced GCs: the lowest of a few readings, so one allocation burst does not count. */
async function settledRssKb(): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 200));
    await collectGarbage();
    readings.push(rssKb());
  }
  return Math.min(...readings);
}

/** The relay's descriptors once closes have settled (they finish asynchronously): `target` or fewer, or the last of readings that stopped changing. */
async function settledFds(target: number): Promise<number> {
  const deadline = Date.now() + 5000;
  let last = -1;
  let n = fds();
  while (n > target && n !== last && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    last = n;
    n = fds();
  }
  return n;
}

describe('connection churn', () => {
  test(`${CYCLES.toLocaleString('en')} connect/hello/disconnect cycles leave no descriptors behind and RSS within 10%`, async () => {
    expect(await churn(WARM_UP)).toBe(WARM_UP);
    const fdBaseline = await settledFds(0);
    const before = fdTargets();
    const rssBaseline = await settledRssKb();

    const started = Date.now();
    expect(await churn(CYCLES)).toBe(CYCLES);
    const elapsed = Date.now() - started;

    const fdAfter = await settledFds(fdBaseline);
    const rssAfter = await settledRssKb();
    expect(fdAfter, `descriptors ${fdBaseline} → ${fdAfter}: ${JSON.stringify({ before, after: fdTargets() })}`).toBeLessThanOrEqual(fdBaseline + FD_SLACK);
    expect(rssAfter / rssBaseline, `RSS ${rssBaseline} kB → ${rssAfter} kB after ${CYCLES} cycles in ${elapsed} ms`).toBeLessThan(1 + RSS_DRIFT);
    // The relay still serves.
    expect(await cycle(false)).toBe(true);
  }, 120_000);
});
