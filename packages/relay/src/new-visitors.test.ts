// New visitors cost nothing that outlives their socket: 10,000 token-less hellos against the
// built CLI, run with a 64 MB heap (a relay that stored a conversation per hello died of
// "heap out of memory" after 1,676 of them). `npm test` builds before testing.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { CLOSE, PROTOCOL_VERSION } from '@parley/protocol';
import { cli, configFile, killChildren, listening, requireBuiltCli, start } from './test-support/cli-process.js';
import { API_SECRET, ORIGIN, testConfig } from './test-support/harness.js';

beforeAll(requireBuiltCli);
afterEach(killChildren);

/** The CLI with a 64 MB heap and the given limits, on a free port; resolves with its base URL. */
function startCli(engine: unknown, limits: Record<string, unknown>): Promise<string> {
  const file = configFile({ ...testConfig('http://127.0.0.1:9/hook'), engine, host: '127.0.0.1', port: 0, logLevel: 'info', limits });
  return listening(start('node', ['--max-old-space-size=64', cli, '--config', file]));
}

/** The largest page context a hello may carry. */
const page = { url: 'https://shop.example/' + 'p'.repeat(2000), title: 't'.repeat(400), referrer: 'https://ref.example/' + 'r'.repeat(2000), locale: 'en-GB' };

/** Open a socket, say hello without a token, and resolve with the first frame's `t` (or the close code). */
function hello(wsUrl: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { origin: ORIGIN });
    ws.on('error', () => resolve('error'));
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', page })));
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { t: string; code?: string };
      ws.close();
      resolve(f.t === 'error' ? `error:${f.code}` : f.t);
    });
    ws.on('close', (code) => resolve(`close:${code}`));
  });
}

async function heapUsed(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^parley_nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text)![1]);
}

describe('new visitors', () => {
  test('10,000 token-less hellos from one client store no conversation and keep the heap under 48 MB', { timeout: 120_000 }, async () => {
    const base = await startCli({ type: 'memory' }, { newVisitorsPerIpPerMinute: 1_000_000, maxConnectionsPerIp: 1000, maxHttpConnectionsPerIp: 0 });
    const wsUrl = base.replace('http', 'ws') + '/v1/widget';
    const outcomes = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < 10_000) {
        next++;
        const t = await hello(wsUrl);
        outcomes.set(t, (outcomes.get(t) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 25 }, worker));
    expect(Object.fromEntries(outcomes)).toEqual({ welcome: 10_000 });
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const list = await fetch(`${base}/v1/conversations`, { headers: { authorization: `Bearer ${API_SECRET}` } });
    expect(((await list.json()) as { items: unknown[] }).items).toEqual([]);
    expect(await heapUsed(base)).toBeLessThan(48 * 1024 * 1024);
  });

  test('new visitors from one address past the per-minute cap are refused with RATE_LIMITED', async () => {
    const base = await startCli({ type: 'memory' }, { newVisitorsPerIpPerMinute: 20 });
    const wsUrl = base.replace('http', 'ws') + '/v1/widget';
    const outcomes: string[] = [];
    for (let i = 0; i < 25; i++) outcomes.push(await hello(wsUrl));
    expect(outcomes.slice(0, 20)).toEqual(Array(20).fill('welcome'));
    expect(outcomes.slice(20)).toEqual(Array(5).fill('error:RATE_LIMITED'));
    // The refusal closes with a reconnect-later code.
    const closed = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, { origin: ORIGIN });
      ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' })));
      ws.on('close', (code) => resolve(code));
    });
    expect(closed).toBe(CLOSE.RATE_LIMITED);
  });
});
