import { afterEach, describe, expect, test } from 'vitest';
import { drip, rawClient } from './test-support/raw-http.js';
import { TestClient, startStack } from './test-support/harness.js';
import type { BuildAppOptions } from './app.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const setup = (options: BuildAppOptions = {}) => startStack((c) => cleanups.push(c), options);

describe('HTTP limits', () => {
  test('a slowloris upgrade (headers dripped a byte at a time) is cut after headersTimeoutMs', async () => {
    const { port } = await setup({ limits: { headersTimeoutMs: 400 } });
    const c = rawClient(port, (c) => cleanups.push(c));
    await c.ready;
    const started = Date.now();
    drip(c.socket, 'GET /v1/widget HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n', 50);
    await c.closed;
    const heldMs = c.closedAt! - started;
    expect(heldMs).toBeGreaterThanOrEqual(350);
    expect(heldMs).toBeLessThan(2000);
  });

  test('a POST that announces a body and drips it is cut after requestTimeoutMs', async () => {
    const { port } = await setup({ limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const c = rawClient(port, (c) => cleanups.push(c));
    await c.ready;
    const started = Date.now();
    c.socket.write('POST /v1/conversations/c_x/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n');
    drip(c.socket, '{"id":"m_1","body":' + ' '.repeat(1000), 50);
    await c.closed;
    expect(c.closedAt! - started).toBeLessThan(2500);
  });

  test('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
    const { port } = await setup({ limits: { keepAliveTimeoutMs: 300 } });
    const c = rawClient(port, (c) => cleanups.push(c));
    await c.ready;
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const started = Date.now();
    await c.closed;
    expect(c.received).toMatch(/^HTTP\/1\.1 200/);
    expect(c.closedAt! - started).toBeLessThan(2000);
  });

  test('plain connections over maxHttpConnectionsPerIp get a 429 with the error body; an upgraded socket stops counting', async () => {
    const { relay, port } = await setup({ limits: { maxHttpConnectionsPerIp: 3, headersTimeoutMs: 10_000 } });
    // A widget socket holds a connection only until it is upgraded.
    const widget = await TestClient.open(relay.wsUrl);
    cleanups.push(() => widget.close());
    await widget.hello();

    const held = [rawClient(port, (c) => cleanups.push(c)), rawClient(port, (c) => cleanups.push(c)), rawClient(port, (c) => cleanups.push(c))];
    await Promise.all(held.map((c) => c.ready));
    for (const c of held) c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // headers never finished
    const refused = rawClient(port, (c) => cleanups.push(c));
    await refused.closed;
    expect(refused.received).toMatch(/^HTTP\/1\.1 429 /);
    expect(refused.received).toMatch(/retry-after: \d+/i);
    expect(JSON.parse(refused.received.slice(refused.received.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'RATE_LIMITED', message: expect.any(String) },
    });
    const metrics = await (await fetch(`${relay.base}/metrics`).catch(() => null))?.text();
    // The metrics request itself is over the cap while three are held; read the counter after releasing them.
    expect(metrics ?? '').not.toContain('parley_http_connections_refused_total 0');

    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${relay.base}/metrics`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/parley_http_connections_refused_total [1-9]/);
  });
});
