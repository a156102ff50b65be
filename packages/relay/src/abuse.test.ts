// Abuse with the limits asserted, not just exercised: frame and REST floods (a frozen clock makes
// every count exact), connection floods, slowloris headers, and a reader that never reads.
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE, PROTOCOL_VERSION } from '@parley/protocol';
import { drip, rawClient } from './test-support/raw-http.js';
import { API_SECRET_2, TestClient, eventually, startBackend, startRelay, testConfig, startStack } from './test-support/harness.js';
import type { BuildAppOptions } from './app.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const setup = (options: BuildAppOptions = {}) => startStack((c) => cleanups.push(c), options);

/** A counter of the relay's /metrics, 0 when absent. */
async function metric(base: string, line: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { headers: { connection: 'close' } })).text();
  const m = text.split('\n').find((l) => l.startsWith(line + ' '));
  return m ? Number(m.slice(line.length + 1)) : 0;
}

describe('frame floods', () => {
  test('a socket gets exactly burst-1 answers after hello, one RATE_LIMITED warning, then RATE_LIMITED and CLOSE.RATE_LIMITED after rateLimitStrikes more', async () => {
    const clock = 1_000_000; // frozen: no token is refilled during a run
    const backend = await startBackend();
    cleanups.push(backend.close);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 40 }), async (burst, strikes, extra) => {
        const relay = await startRelay(testConfig(backend.url), { now: () => clock, limits: { rateLimit: { perSecond: 1, burst }, rateLimitStrikes: strikes } });
        try {
          const bystander = await TestClient.open(relay.wsUrl);
          const c = await TestClient.open(relay.wsUrl);
          await c.hello(); // takes one token
          const flood = burst - 1 + strikes + 1 + extra;
          for (let i = 0; i < flood; i++) c.send({ t: 'ping', ts: i });
          expect((await c.waitClosed()).code).toBe(CLOSE.RATE_LIMITED);
          expect(c.frames.map((f) => (f.t === 'error' ? f.code : f.t))).toEqual(['welcome', ...Array(burst - 1).fill('pong'), 'RATE_LIMITED', 'RATE_LIMITED']);
          // Another socket of the same address has a bucket of its own: its hello, after the flood, is served.
          await bystander.hello();
          expect(bystander.closed).toBeUndefined();
          bystander.close();
        } finally {
          await relay.close();
        }
      }),
      { numRuns: 25, seed: 14_040 },
    );
  });

  test('a flood of sends stores exactly the frames within the budget, each once', async () => {
    const clock = 1_000_000;
    const { relay, open } = await setup({ now: () => clock, limits: { rateLimit: { perSecond: 1, burst: 12 }, rateLimitStrikes: 4 } });
    const c = await open();
    const { conversationId } = await c.hello();
    for (let i = 0; i < 50; i++) c.send({ t: 'send', id: `m${i}`, body: { type: 'text', text: `flood ${i}` } });
    expect((await c.waitClosed()).code).toBe(CLOSE.RATE_LIMITED);
    const acked = c.frames.filter((f) => f.t === 'ack').map((f) => (f as { id: string }).id);
    expect(acked).toEqual(Array.from({ length: 11 }, (_, i) => `m${i}`));
    const log = await relay.api('GET', `/v1/conversations/${conversationId}/messages`);
    expect(log.json.entries.filter((e: { kind: string }) => e.kind === 'msg').map((e: { id: string }) => e.id)).toEqual(acked);
  });

  test('a connection flood from one address: exactly maxConnectionsPerIp are served, the rest get TOO_MANY_CONNECTIONS and CLOSE.TOO_MANY_CONNECTIONS', async () => {
    const { open } = await setup({ limits: { maxConnectionsPerIp: 10 } });
    const sockets = await Promise.all(Array.from({ length: 30 }, () => open()));
    const outcomes = await Promise.all(
      sockets.map(async (c) => {
        c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' });
        const f = await c.take((f) => f.t === 'welcome' || f.t === 'error');
        if (f.t === 'welcome') return 'welcome';
        return `${(f as { code: string }).code} ${(await c.waitClosed()).code}`;
      }),
    );
    expect(outcomes.filter((o) => o === 'welcome')).toHaveLength(10);
    expect(outcomes.filter((o) => o !== 'welcome')).toEqual(Array(20).fill(`TOO_MANY_CONNECTIONS ${CLOSE.TOO_MANY_CONNECTIONS}`));
  });

  test('new visitors over newVisitorsPerIpPerMinute get RATE_LIMITED and CLOSE.RATE_LIMITED; a returning visitor is still served', async () => {
    let clock = 1_000_000;
    const { open } = await setup({ now: () => clock, limits: { newVisitorsPerIpPerMinute: 5 } });
    const first = await open();
    const { token } = await first.hello();
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const c = await open();
      c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' });
      const f = await c.take((f) => f.t === 'welcome' || f.t === 'error');
      outcomes.push(f.t === 'welcome' ? 'welcome' : `${(f as { code: string }).code} ${(await c.waitClosed()).code}`);
      c.close();
    }
    expect(outcomes).toEqual([...Array(4).fill('welcome'), ...Array(4).fill(`RATE_LIMITED ${CLOSE.RATE_LIMITED}`)]);
    await (await open()).hello({ token });
    clock += 12_000; // one more new visitor per 12 s
    await (await open()).hello();
  });
});

describe('REST floods', () => {
  test("a site's requests over restRateLimit get 429 RATE_LIMITED; exactly burst get through, then perSecond per second; another site is unaffected", async () => {
    let clock = 1_000_000;
    const { relay } = await setup({ now: () => clock, limits: { restRateLimit: { perSecond: 2, burst: 15 } } });
    const flood = await Promise.all(Array.from({ length: 40 }, () => relay.api('GET', '/v1/conversations')));
    expect(flood.filter((r) => r.status === 200)).toHaveLength(15);
    const refused = flood.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(25);
    for (const r of refused) expect(r).toEqual({ status: 429, json: { error: { code: 'RATE_LIMITED', message: expect.any(String) } } });
    expect((await relay.api('GET', '/v1/conversations', undefined, API_SECRET_2)).status).toBe(200);
    clock += 3000;
    const later = await Promise.all(Array.from({ length: 10 }, () => relay.api('GET', '/v1/conversations')));
    expect(later.filter((r) => r.status === 200)).toHaveLength(6);
  });
});


const UPGRADE_HEAD = 'GET /v1/widget HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: https://shop.example\r\nX-Padding: ' + 'p'.repeat(400);
const body = (received: string) => JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4));

describe('slowloris', () => {
  const HEADERS_TIMEOUT_MS = 600;
  /** Node looks for expired headers every headersTimeoutMs / 4 (150 ms); the rest is scheduling on a busy 2-core machine. */
  const CUT_WITHIN_MS = HEADERS_TIMEOUT_MS + 1000;

  test('connections dripping headers are each cut between headersTimeoutMs and headersTimeoutMs + 1 s, with 408 REQUEST_TIMEOUT', async () => {
    const { relay, port } = await setup({ limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, maxHttpConnectionsPerIp: 64 } });
    const clients = Array.from({ length: 40 }, () => rawClient(port, (c) => cleanups.push(c)));
    await Promise.all(clients.map((c) => c.ready));
    const started = Date.now();
    for (const c of clients) drip(c.socket, UPGRADE_HEAD, 40);
    await Promise.all(clients.map((c) => c.closed));
    const held = clients.map((c) => c.closedAt! - started);
    expect(Math.min(...held)).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(Math.max(...held)).toBeLessThanOrEqual(CUT_WITHIN_MS);
    for (const c of clients) {
      expect(c.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(body(c.received)).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: expect.any(String) } });
    }
    // The relay serves as before.
    expect((await fetch(`${relay.base}/healthz`)).status).toBe(200);
  });

  test('over maxHttpConnectionsPerIp, exactly the excess is refused with 429 at once; the held ones are cut at the headers timeout; then the address is served again', async () => {
    const CAP = 8;
    const { relay, port } = await setup({ limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, maxHttpConnectionsPerIp: CAP } });
    const before = await metric(relay.base, 'parley_http_connections_refused_total');
    const clients: Array<ReturnType<typeof rawClient>> = [];
    // One at a time, so which ones are over the cap is known.
    for (let i = 0; i < 20; i++) {
      const c = rawClient(port, (c) => cleanups.push(c));
      clients.push(c);
      await c.ready;
      drip(c.socket, UPGRADE_HEAD, 40);
    }
    const started = Date.now();
    await Promise.all(clients.map((c) => c.closed));
    const refused = clients.filter((c) => /^HTTP\/1\.1 429 /.test(c.received));
    const cut = clients.filter((c) => /^HTTP\/1\.1 408 /.test(c.received));
    expect([refused.length, cut.length]).toEqual([20 - CAP, CAP]);
    expect(cut.map((c) => clients.indexOf(c))).toEqual(Array.from({ length: CAP }, (_, i) => i));
    for (const c of refused) {
      expect(body(c.received)).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String) } });
      expect(c.received).toMatch(/retry-after: \d+/i);
      // Refused at once, not held until the timeout.
      expect(c.closedAt! - started).toBeLessThan(HEADERS_TIMEOUT_MS / 2);
    }
    for (const c of cut) expect(c.closedAt! - started).toBeLessThanOrEqual(CUT_WITHIN_MS);
    expect((await fetch(`${relay.base}/healthz`, { headers: { connection: 'close' } })).status).toBe(200);
    expect((await metric(relay.base, 'parley_http_connections_refused_total')) - before).toBe(20 - CAP);
  });
});

describe('slow readers', () => {
  test('a socket that never reads is cut with SLOW_CONSUMER / CLOSE.SLOW_CONSUMER once maxBufferedBytes is passed; others keep getting every message', async () => {
    const MAX_BUFFERED = 64 * 1024;
    const { relay, open } = await setup({ limits: { maxBufferedBytes: MAX_BUFFERED, restRateLimit: { perSecond: 1_000_000, burst: 1_000_000 } } });
    const slow = await open();
    const slowConversation = (await slow.hello()).conversationId;
    slow.send({ t: 'send', id: 'hi', body: { type: 'text', text: 'hi' } });
    await slow.take('ack');
    const reader = await open();
    const readerConversation = (await reader.hello()).conversationId;
    reader.send({ t: 'send', id: 'hi', body: { type: 'text', text: 'hi' } });
    await reader.take('ack');

    // Stop reading: the kernel buffers fill, then the relay's send buffer.
    (slow.ws as unknown as { _socket: Socket })._socket.pause();
    const text = 'x'.repeat(3900);
    let pushed = 0;
    const closes = () => metric(relay.base, `parley_socket_closes_total{code="${CLOSE.SLOW_CONSUMER}"}`);
    while ((await closes()) === 0) {
      expect(pushed, 'the slow socket was never cut').toBeLessThan(5000);
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const n = pushed + i;
          return Promise.all([
            relay.api('POST', `/v1/conversations/${slowConversation}/messages`, { id: `s${n}`, body: { type: 'text', text } }),
            n % 10 === 0 ? relay.api('POST', `/v1/conversations/${readerConversation}/messages`, { id: `r${n}`, body: { type: 'text', text: `r${n}` } }) : undefined,
          ]);
        }),
      );
      pushed += 50;
    }
    const bytesPushed = pushed * text.length;
    expect(bytesPushed).toBeGreaterThan(MAX_BUFFERED);
    expect(await closes()).toBe(1);

    // The reader got every one of its messages, in order, and is still open.
    const expected = ['hi', ...Array.from({ length: pushed / 10 }, (_, i) => `r${i * 10}`)];
    await eventually(() => reader.msgs().length >= expected.length);
    expect(reader.msgs().map((m) => m.id)).toEqual(expected);
    reader.send({ t: 'ping' });
    await reader.take('pong');
    expect(reader.closed).toBeUndefined();

    // Reading again, the slow socket finds the relay gone: the backlog, then SLOW_CONSUMER and 4003,
    // unless the relay had to cut the connection before the close frame got out (1006).
    (slow.ws as unknown as { _socket: Socket })._socket.resume();
    const { code } = await slow.waitClosed(10_000);
    expect([CLOSE.SLOW_CONSUMER, 1006]).toContain(code);
    if (code === CLOSE.SLOW_CONSUMER) expect(slow.frames.at(-1)).toMatchObject({ t: 'error', code: 'SLOW_CONSUMER' });
    // It did not get everything: the relay stopped sending to it.
    expect(slow.msgs().length).toBeLessThan(pushed + 1);
    expect(await metric(relay.base, 'parley_connections')).toBe(1);
  }, 60_000);
});
