import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { CLOSE, PROTOCOL_VERSION, hmacSha256Hex } from '@parley/protocol';
import { API_SECRET, IDENTITY_SECRET, TestClient, startBackend, startRelay, testConfig, startStack } from './test-support/harness.js';
import type { BuildAppOptions } from './app.js';
import type { RelayConfigInput } from './config.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let clock = 1_800_000_000_000;
const setup = (options: BuildAppOptions = {}, overrides: Partial<RelayConfigInput> = {}) =>
  startStack(
    (c) => cleanups.push(c),
    { now: () => clock, limits: { authFailuresPerIp: { perSecond: 0.001, burst: 5 }, authBlockMs: 60_000 }, ...options },
    overrides,
  );

/** The status (and Retry-After) of a backend socket upgrade with this secret. */
function upgrade(base: string, secret: string): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(base.replace('http', 'ws') + '/v1/backend', { headers: { authorization: `Bearer ${secret}` } });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}) });
    });
    ws.on('error', () => {});
  });
}

describe('failed authentication is throttled per address', () => {
  test('REST: after the allowance of wrong secrets, 429 with Retry-After, even for the right secret, until the block lapses', async () => {
    const { relay } = await setup();
    for (let i = 0; i < 5; i++) expect((await relay.api('GET', '/v1/conversations', undefined, `wrong-secret-${i}-0123456789`)).status).toBe(401);
    const refused = await fetch(`${relay.base}/v1/conversations`, { headers: { authorization: 'Bearer wrong-secret-x-0123456789' } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(await refused.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringContaining('failed authentications') } });
    // A blocked guesser learns nothing from a right guess either.
    expect((await relay.api('GET', '/v1/conversations')).status).toBe(429);
    expect((await upgrade(relay.base, API_SECRET)).status).toBe(429);
    clock += 60_001;
    expect((await relay.api('GET', '/v1/conversations')).status).toBe(200);
    expect(API_SECRET).toBeTruthy();
  });

  test('the backend socket counts wrong secrets too', async () => {
    const { relay } = await setup();
    for (let i = 0; i < 5; i++) expect((await upgrade(relay.base, `wrong-secret-${i}-0123456789`)).status).toBe(401);
    expect(await upgrade(relay.base, 'wrong-secret-5-0123456789')).toEqual({ status: 429, retryAfter: '60' });
  });

  test('widget: forged tokens and wrong identity signatures use up the allowance; then a hello with credentials is refused with RATE_LIMITED', async () => {
    const { open } = await setup();
    const first = await open();
    const good = await first.hello();
    for (let i = 0; i < 4; i++) {
      const c = await open();
      c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', token: `v1.${'x'.repeat(20)}.${'y'.repeat(43)}` });
      expect(await c.take('error')).toMatchObject({ code: 'TOKEN_INVALID' });
    }
    const wrong = await hmacSha256Hex('not-the-identity-secret-0123', 'user-1');
    const id = await open();
    id.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', identity: { userId: 'user-1', signature: wrong } });
    expect(await id.take('error')).toMatchObject({ code: 'IDENTITY_INVALID' });
    // The sixth failure blocks the address.
    const sixth = await open();
    sixth.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', token: `v1.${'z'.repeat(20)}.${'y'.repeat(43)}` });
    expect(await sixth.take('error')).toMatchObject({ code: 'TOKEN_INVALID' });

    const blocked = await open();
    blocked.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', token: good.token });
    expect(await blocked.take('error')).toMatchObject({ code: 'RATE_LIMITED' });
    expect((await blocked.waitClosed()).code).toBe(CLOSE.RATE_LIMITED);
    const signedIn = await open();
    signedIn.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', identity: { userId: 'user-1', signature: await hmacSha256Hex(IDENTITY_SECRET, 'user-1') } });
    expect(await signedIn.take('error')).toMatchObject({ code: 'RATE_LIMITED' });
    // A hello that proves nothing is not an authentication: a new visitor is still served.
    await (await open()).hello();
    clock += 60_001;
    expect((await (await open()).hello({ token: good.token })).conversationId).toBe(good.conversationId);
  });
});

describe('a missing Origin', () => {
  test('is refused, even for a site allowing "*", unless the site allows it explicitly', async () => {
    const { open } = await setup({}, {});
    const none = await open(null);
    none.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_other' });
    expect(await none.take('error')).toMatchObject({ code: 'ORIGIN_REFUSED' });
    expect((await none.waitClosed()).code).toBe(CLOSE.ORIGIN_REFUSED);
    const any = await open('https://anything.example');
    any.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_other' });
    expect(await any.take('welcome')).toMatchObject({ t: 'welcome' });
  });

  test('is accepted for a site with allowNoOrigin (native apps)', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const base = testConfig(backend.url);
    const relay = await startRelay({ ...base, sites: base.sites.map((s) => ({ ...s, allowNoOrigin: true })) });
    cleanups.push(relay.close);
    const app = await TestClient.open(relay.wsUrl, null);
    cleanups.push(() => app.close());
    expect((await app.hello()).t).toBe('welcome');
  });
});
