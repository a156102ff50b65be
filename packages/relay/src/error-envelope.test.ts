import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { API_SECRET, startStack } from './test-support/harness.js';
import type { RelayConfigInput } from './config.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const setup = async (overrides: Partial<RelayConfigInput> = {}) => (await startStack((c) => cleanups.push(c), {}, overrides)).relay;

const auth = { authorization: `Bearer ${API_SECRET}` };
const ENVELOPE = { error: { code: expect.any(String), message: expect.any(String) } };

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('one error envelope', () => {
  test('every refusal is {error:{code,message}}, never echoes its input, and carries the security headers', async () => {
    const relay = await setup();
    const marker = 'zq<script>alert(1)</script>';
    const cases: Array<[string, RequestInit, number, string]> = [
      // A path parameter over Fastify's 100-character limit: no id is that long.
      [`/v1/conversations/${'x'.repeat(300)}${encodeURIComponent(marker)}/messages`, { headers: auth }, 404, 'NOT_FOUND'],
      [`/v1/${encodeURIComponent(marker)}`, {}, 404, 'NOT_FOUND'],
      ['/v1/widget', {}, 426, 'UPGRADE_REQUIRED'],
      ['/v1/conversations', { headers: { authorization: `Bearer ${marker}` } }, 401, 'UNAUTHORIZED'],
      ['/v1/conversations/c_x/messages', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: `{"id":"${marker}"` }, 400, 'BAD_JSON'],
      ['/v1/conversations/c_x/messages', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: 'x'.repeat(70_000) }, 413, 'TOO_LARGE'],
      ['/v1/availability', { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: marker }, 400, 'BAD_REQUEST'],
    ];
    for (const [path, init, status, code] of cases) {
      const res = await call(relay.base + path, init);
      expect({ path: path.slice(0, 40), status: res.status, code: (res.json as { error?: { code?: string } })?.error?.code }).toEqual({
        path: path.slice(0, 40),
        status,
        code,
      });
      expect(res.json).toEqual(ENVELOPE);
      expect(res.text).not.toContain('zq');
      expect(res.text).not.toContain('xxxxxxxxxx');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect([path.slice(0, 40), res.headers.get('x-content-type-options'), res.headers.get('x-frame-options'), res.headers.get('referrer-policy')]).toEqual([
        path.slice(0, 40),
        'nosniff',
        'DENY',
        'no-referrer',
      ]);
    }
    const upgrade = await call(`${relay.base}/v1/widget`);
    expect(upgrade.headers.get('upgrade')).toBe('websocket');
  });

  test('a healthy answer carries the security headers too', async () => {
    const relay = await setup();
    const res = await call(`${relay.base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });
});

describe('who may read /metrics', () => {
  test('by default: loopback clients only; behind a trusted proxy the forwarded client address decides', async () => {
    const relay = await setup({ trustProxy: true });
    expect((await call(`${relay.base}/metrics`)).text).toContain('parley_connections');
    const outside = await call(`${relay.base}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(outside.status).toBe(404);
    expect(outside.json).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });

  test('with metrics.token: any address with the bearer token, nobody without it', async () => {
    const token = 'metrics-token-0123456789';
    const relay = await setup({ trustProxy: true, metrics: { token } });
    const forwarded = { 'x-forwarded-for': '203.0.113.9' };
    expect((await call(`${relay.base}/metrics`, { headers: forwarded })).status).toBe(404);
    expect((await call(`${relay.base}/metrics`)).status).toBe(404);
    expect((await call(`${relay.base}/metrics`, { headers: { ...forwarded, authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(404);
    const ok = await call(`${relay.base}/metrics`, { headers: { ...forwarded, authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('parley_webhook_deliveries_total');
  });

  test('with metrics.port: a listener of its own, and nothing on the relay port', async () => {
    const relay = await setup({ metrics: { port: 0 } });
    expect((await call(`${relay.base}/metrics`)).status).toBe(404);
    const server = relay.app.parley.metricsServer!;
    const port = (server.address() as AddressInfo).port;
    expect(port).not.toBe(Number(new URL(relay.base).port));
    const res = await call(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('parley_connections');
    expect((await call(`http://127.0.0.1:${port}/elsewhere`)).json).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
    await relay.close();
    expect(server.listening).toBe(false);
  });
});
