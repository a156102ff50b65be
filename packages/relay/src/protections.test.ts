import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE, PROTOCOL_VERSION } from '@parley/protocol';
import { Connection, type SocketContext } from './connection.js';
import { createMetrics } from './plugins/metrics.js';
import { LimitsConfig } from './config.js';
import { TestClient, startBackend, startRelay, testConfig } from './test-support/harness.js';
import type { BuildAppOptions } from './app.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: BuildAppOptions) {
  const backend = await startBackend();
  cleanups.push(backend.close);
  const relay = await startRelay(testConfig(backend.url), options);
  cleanups.push(relay.close);
  const open = async () => {
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    return c;
  };
  return { relay, open };
}

describe('protections', () => {
  test('a flood gets a RATE_LIMITED error frame and the socket stays open; if it goes on, CLOSE.RATE_LIMITED', async () => {
    let clock = 1_000_000;
    const { open } = await setup({ now: () => clock, limits: { rateLimit: { perSecond: 1, burst: 5 }, rateLimitStrikes: 3 } });
    const c = await open();
    await c.hello(); // hello takes one of the 5 tokens
    for (let i = 0; i < 5; i++) c.send({ t: 'ping', ts: i });
    expect(await c.take('error')).toMatchObject({ code: 'RATE_LIMITED' });
    // One second later the bucket holds a token again: the same socket is served.
    clock += 1000;
    c.send({ t: 'ping', ts: 99 });
    await c.take((f) => f.t === 'pong' && c.frames.filter((x) => x.t === 'pong').length === 5);
    expect(c.closed).toBeUndefined();
    expect(c.frames.map((f) => f.t)).toEqual(['welcome', 'pong', 'pong', 'pong', 'pong', 'error', 'pong']);

    // The abuse goes on: a fresh error frame, then the close.
    for (let i = 0; i < 10; i++) c.send({ t: 'ping', ts: 100 + i });
    expect((await c.waitClosed()).code).toBe(CLOSE.RATE_LIMITED);
    const after = c.frames.slice(7);
    expect(after.every((f) => f.t === 'error' && f.code === 'RATE_LIMITED')).toBe(true);
    expect(after.length).toBeGreaterThanOrEqual(1);
  });

  test('connections over the per-IP cap get TOO_MANY_CONNECTIONS and CLOSE.TOO_MANY_CONNECTIONS', async () => {
    const { open } = await setup({ limits: { maxConnectionsPerIp: 2 } });
    const a = await open();
    const b = await open();
    const c = await open();
    expect(await c.take('error')).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    expect((await c.waitClosed()).code).toBe(CLOSE.TOO_MANY_CONNECTIONS);
    await a.hello();
    await b.hello();
  });

  test('a socket that sends no hello in time gets HELLO_TIMEOUT and CLOSE.HELLO_TIMEOUT', async () => {
    let clock = 1_000_000;
    const { open } = await setup({ now: () => clock, limits: { helloTimeoutMs: 100 } });
    const c = await open();
    const greeted = await open();
    clock += 60;
    await greeted.hello();
    clock += 60;
    expect((await c.waitClosed()).code).toBe(CLOSE.HELLO_TIMEOUT);
    expect(c.frames).toEqual([{ t: 'error', code: 'HELLO_TIMEOUT', message: expect.any(String) }]);
    greeted.send({ t: 'ping' });
    await greeted.take('pong');
    expect(greeted.closed).toBeUndefined();
  });

  test('an idle socket is closed with CLOSE.IDLE_TIMEOUT; pings keep it open', async () => {
    let clock = 1_000_000;
    const { open } = await setup({ now: () => clock, limits: { idleTimeoutMs: 100 } });
    const idle = await open();
    await idle.hello();
    const busy = await open();
    await busy.hello();
    clock += 60;
    busy.send({ t: 'ping' });
    await busy.take('pong');
    clock += 60;
    expect((await idle.waitClosed()).code).toBe(CLOSE.IDLE_TIMEOUT);
    expect(idle.frames.at(-1)).toMatchObject({ t: 'error', code: 'IDLE_TIMEOUT' });
    busy.send({ t: 'ping' });
    await busy.take('pong');
    expect(busy.closed).toBeUndefined();
  });

  test('a reader whose send buffer passes the cap is closed with CLOSE.SLOW_CONSUMER', async () => {
    // A socket that never drains: bufferedAmount grows with every frame.
    const sent: string[] = [];
    const closes: number[] = [];
    const socket = {
      readyState: 1,
      bufferedAmount: 0,
      send(text: string) {
        sent.push(text);
        this.bufferedAmount += text.length;
      },
      close(code: number) {
        closes.push(code);
        this.readyState = 2;
      },
      terminate() {},
    };
    const limits = LimitsConfig.parse({ maxBufferedBytes: 2048 });
    const ctx = { limits, metrics: createMetrics(), now: Date.now, closeGraceMs: 10 } as unknown as SocketContext;
    const conn = new Connection(ctx, socket as never, '127.0.0.1', undefined);
    for (let i = 0; i < 200; i++) conn.sendFrame({ t: 'pong', ts: i });
    expect(closes).toEqual([CLOSE.SLOW_CONSUMER]);
    expect(JSON.parse(sent.at(-1)!)).toMatchObject({ t: 'error', code: 'SLOW_CONSUMER' });
    expect(sent.length).toBeLessThan(200);
  });

  test('closing the app closes sockets with CLOSE.GOING_AWAY and /readyz reports NOT_READY meanwhile', async () => {
    const { relay, open } = await setup({});
    const c = await open();
    await c.hello();
    expect((await fetch(`${relay.base}/readyz`)).status).toBe(200);
    await relay.app.close();
    expect((await c.waitClosed()).code).toBe(CLOSE.GOING_AWAY);
    expect(c.frames.at(-1)).toMatchObject({ t: 'error' });
  });

  test('hello frames after the first are refused without closing', async () => {
    const { open } = await setup({});
    const c = await open();
    await c.hello();
    c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' });
    expect(await c.take('error')).toMatchObject({ code: 'BAD_FRAME' });
    c.send({ t: 'ping' });
    await c.take('pong');
  });
});
