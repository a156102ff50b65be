// The backend REST API's logic at the in-memory level (`app.inject`): authentication, site
// isolation, validation of bodies and queries, the error envelope and the headers on every answer.
import { afterEach, describe, expect, test } from 'vitest';
import { LIMITS } from '@parley/protocol';
import { API_SECRET, API_SECRET_2 } from '../test-support/harness.js';
import { CLIENT_IP, injectRelay, type InjectRelayOptions } from '../test-support/inject.js';

const relays: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

async function setup(options: InjectRelayOptions = {}) {
  const relay = await injectRelay(options);
  relays.push(relay);
  return relay;
}

type Relay = Awaited<ReturnType<typeof setup>>;

const text = (t: string) => ({ type: 'text', text: t });
const envelope = (code: string) => ({ error: { code, message: expect.any(String) } });

/** A conversation of the site, stored by its visitor's first message. */
async function conversation(relay: Relay, siteKey = 'pk_test'): Promise<string> {
  const c = await relay.socket();
  const { conversationId } = await c.hello({ siteKey });
  c.send({ t: 'send', id: 'first', body: text('hi') });
  await c.take('ack');
  return conversationId;
}

describe('one error envelope, with the security headers', () => {
  const auth = { authorization: `Bearer ${API_SECRET}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const marker = 'zq<script>alert(1)</script>';
  test.each([
    ['a path parameter longer than any id', { method: 'GET', url: `/v1/conversations/${'x'.repeat(300)}${encodeURIComponent(marker)}/messages`, headers: auth }, 404, 'NOT_FOUND'],
    ['an unknown route', { method: 'GET', url: `/v1/${encodeURIComponent(marker)}` }, 404, 'NOT_FOUND'],
    ['a plain GET of the widget socket', { method: 'GET', url: '/v1/widget' }, 426, 'UPGRADE_REQUIRED'],
    ['a wrong API secret', { method: 'GET', url: '/v1/conversations', headers: { authorization: `Bearer ${marker}` } }, 401, 'UNAUTHORIZED'],
    ['no API secret', { method: 'GET', url: '/v1/conversations' }, 401, 'UNAUTHORIZED'],
    ['a body that is not JSON', { method: 'POST', url: '/v1/conversations/c_x/messages', headers: json, payload: `{"id":"${marker}"` }, 400, 'BAD_JSON'],
    ['an empty JSON body', { method: 'POST', url: '/v1/availability', headers: json, payload: '' }, 400, 'BAD_JSON'],
    ['a body over 64 KiB', { method: 'POST', url: '/v1/conversations/c_x/messages', headers: json, payload: 'x'.repeat(70_000) }, 413, 'TOO_LARGE'],
    ['a body that is not JSON by its type', { method: 'POST', url: '/v1/availability', headers: { ...auth, 'content-type': 'text/plain' }, payload: marker }, 400, 'BAD_REQUEST'],
  ] as const)('%s gets its status and code, without echoing its input', async (_name, request, status, code) => {
    const relay = await setup();
    const res = await relay.request({ ...request, remoteAddress: CLIENT_IP });
    expect([res.status, res.json]).toEqual([status, envelope(code)]);
    expect(res.text).not.toContain('zq');
    expect(res.text).not.toContain('xxxxxxxxxx');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
    if (code === 'UPGRADE_REQUIRED') expect(res.headers.upgrade).toBe('websocket');
  });

  test('a healthy answer carries the security headers too', async () => {
    const relay = await setup();
    const res = await relay.request({ method: 'GET', url: '/healthz' });
    expect([res.status, res.json]).toEqual([200, { status: 'ok' }]);
    expect(res.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  });
});

describe('authentication', () => {
  test('after authFailuresPerIp wrong secrets an address gets 429 with Retry-After, even with the right secret, until authBlockMs passes; other addresses are served', async () => {
    const relay = await setup({ limits: { authFailuresPerIp: { perSecond: 0.001, burst: 3 }, authBlockMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await relay.api('GET', '/v1/conversations', undefined, `wrong-secret-${i}-0123456789`)).status).toBe(401);
    const blocked = await relay.api('GET', '/v1/conversations', undefined, 'wrong-secret-x-0123456789');
    expect([blocked.status, blocked.headers['retry-after'], blocked.json]).toEqual([429, '60', envelope('RATE_LIMITED')]);
    expect((await relay.api('GET', '/v1/conversations')).status).toBe(429);
    const elsewhere = await relay.request({ method: 'GET', url: '/v1/conversations', headers: { authorization: `Bearer ${API_SECRET}` }, remoteAddress: '198.51.100.7' });
    expect(elsewhere.status).toBe(200);
    relay.clock.advance(60_001);
    expect((await relay.api('GET', '/v1/conversations')).status).toBe(200);
  });

  test("another site's secret gets 404 on this site's conversation, as an unknown id does, and does not list it", async () => {
    const relay = await setup();
    const id = await conversation(relay);
    const post = await relay.api('POST', `/v1/conversations/${id}/messages`, { id: 'x', body: text('hi') }, API_SECRET_2);
    expect([post.status, post.json]).toEqual([404, envelope('NOT_FOUND')]);
    const unknown = await relay.api('POST', '/v1/conversations/c_doesnotexist/messages', { id: 'x', body: text('hi') }, API_SECRET_2);
    expect([unknown.status, unknown.json]).toEqual([post.status, post.json]);
    expect((await relay.api('GET', `/v1/conversations/${id}/messages`, undefined, API_SECRET_2)).status).toBe(404);
    expect((await relay.api('POST', `/v1/conversations/${id}/events`, { event: { type: 'typing', on: true } }, API_SECRET_2)).status).toBe(404);
    expect((await relay.api('GET', '/v1/conversations', undefined, API_SECRET_2)).json.items).toEqual([]);
    expect((await relay.api('GET', '/v1/conversations')).json.items.map((c: { id: string }) => c.id)).toEqual([id]);
  });
});

describe('POST /v1/conversations/:id/messages', () => {
  test('201 for a new message, 200 with duplicate for the same id and body, 409 ID_CONFLICT for the same id with another body', async () => {
    const relay = await setup();
    const path = `/v1/conversations/${await conversation(relay)}/messages`;
    const first = await relay.api('POST', path, { id: 'same', body: text('one') });
    expect(first).toMatchObject({ status: 201, json: { duplicate: false, message: { id: 'same', seq: 2, ts: relay.clock.now, from: { role: 'bot' } } } });
    expect(await relay.api('POST', path, { id: 'same', body: text('one') })).toMatchObject({ status: 200, json: { duplicate: true, message: { seq: 2 } } });
    const conflict = await relay.api('POST', path, { id: 'same', body: text('two') });
    expect([conflict.status, conflict.json]).toEqual([409, envelope('ID_CONFLICT')]);
  });

  test('a body off the schema gets 400 BAD_REQUEST naming the path, and nothing is stored', async () => {
    const relay = await setup();
    const id = await conversation(relay);
    const path = `/v1/conversations/${id}/messages`;
    const cases: Array<[unknown, string]> = [
      [{ id: 'long', body: text('x'.repeat(LIMITS.maxTextLength + 1)) }, 'body.text'],
      [{ body: text('no id') }, 'id'],
      [{ id: 'no-body' }, 'body'],
      [{ id: 'bad-role', from: { role: 'visitor' }, body: text('I am the visitor') }, 'from.role'],
      [{ id: 'bad-url', body: { type: 'card', kind: 'product', title: 'Shoe', url: 'javascript:alert(1)' } }, 'body.url'],
    ];
    for (const [body, where] of cases) {
      const res = await relay.api('POST', path, body);
      expect([res.status, res.json.error.code], where).toEqual([400, 'BAD_REQUEST']);
      expect(res.json.error.message, where).toContain(where);
    }
    expect((await relay.api('GET', path)).json.entries.map((e: { id: string }) => e.id)).toEqual(['first']);
  });

  test('an unknown conversation gets 404 NOT_FOUND', async () => {
    const relay = await setup();
    const res = await relay.api('POST', '/v1/conversations/c_doesnotexist/messages', { id: 'x', body: text('hi') });
    expect([res.status, res.json]).toEqual([404, envelope('NOT_FOUND')]);
  });
});

describe('POST /v1/conversations/:id/events', () => {
  test('a stored event gets a seq, once per id; a transient one gets none; a bad one gets 400 BAD_REQUEST', async () => {
    const relay = await setup();
    const path = `/v1/conversations/${await conversation(relay)}/events`;
    expect(await relay.api('POST', path, { id: 'q_1', event: { type: 'queue', position: 2 } })).toMatchObject({ status: 200, json: { seq: 2, duplicate: false } });
    expect(await relay.api('POST', path, { id: 'q_1', event: { type: 'queue', position: 2 } })).toMatchObject({ status: 200, json: { seq: 2, duplicate: true } });
    expect(await relay.api('POST', path, { event: { type: 'typing', on: true } })).toEqual(expect.objectContaining({ status: 200, json: { duplicate: false } }));
    const bad = await relay.api('POST', path, { event: { type: 'fireworks' } });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'BAD_REQUEST']);
  });
});

describe('queries', () => {
  test('GET /v1/conversations refuses limit=0 and a non-number with BAD_REQUEST, and a cursor it did not give out with BAD_CURSOR', async () => {
    const relay = await setup();
    await conversation(relay);
    await conversation(relay);
    const page = (await relay.api('GET', '/v1/conversations?limit=1')).json;
    expect(page.items).toHaveLength(1);
    expect(page.nextCursor).toEqual(expect.any(String));
    for (const query of ['limit=0', 'limit=ten', 'limit=-1']) {
      const res = await relay.api('GET', `/v1/conversations?${query}`);
      expect([res.status, res.json.error.code], query).toEqual([400, 'BAD_REQUEST']);
    }
    for (const cursor of ['nope', '', encodeURIComponent('a+b/c='), `${page.nextCursor}x`, 'x'.repeat(500)]) {
      const res = await relay.api('GET', `/v1/conversations?cursor=${cursor}`);
      expect([res.status, res.json], cursor).toEqual([400, envelope('BAD_CURSOR')]);
    }
    const rest = await relay.api('GET', `/v1/conversations?cursor=${page.nextCursor}`);
    expect([rest.status, rest.json.items.length, rest.json.nextCursor]).toEqual([200, 1, null]);
    // Another site's cursor is only a position: it lists this site's conversations, nothing of the other site's.
    for (let i = 0; i < 2; i++) await conversation(relay, 'pk_other');
    const other = (await relay.api('GET', '/v1/conversations?limit=1', undefined, API_SECRET_2)).json;
    expect(other.nextCursor).toEqual(expect.any(String));
    const listed = await relay.api('GET', `/v1/conversations?cursor=${other.nextCursor}`);
    expect(listed.status).toBe(200);
    expect(listed.json.items.map((c: { id: string }) => c.id)).not.toContain(other.items[0].id);
  });

  test('GET /v1/conversations/:id/messages pages with after and limit; limit=0 is refused, a limit over the cap is cut to it', async () => {
    const relay = await setup();
    const id = await conversation(relay);
    for (let i = 0; i < 3; i++) await relay.api('POST', `/v1/conversations/${id}/messages`, { id: `b${i}`, body: text(`b${i}`) });
    const path = `/v1/conversations/${id}/messages`;
    expect((await relay.api('GET', `${path}?after=1&limit=2`)).json).toMatchObject({ lastSeq: 4, entries: [{ id: 'b0', seq: 2 }, { id: 'b1', seq: 3 }] });
    expect((await relay.api('GET', `${path}?limit=5000`)).json.entries).toHaveLength(4);
    for (const query of ['limit=0', 'after=-1', 'after=abc']) {
      const res = await relay.api('GET', `${path}?${query}`);
      expect([res.status, res.json.error.code], query).toEqual([400, 'BAD_REQUEST']);
    }
  });
});

describe('other routes', () => {
  test('availability: a bad body is refused; a good one is answered and shown to new widgets', async () => {
    const relay = await setup();
    const bad = await relay.api('POST', '/v1/availability', { online: 'yes' });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'BAD_REQUEST']);
    expect(await relay.api('POST', '/v1/availability', { online: false })).toMatchObject({ status: 200, json: { online: false } });
    expect((await (await relay.socket()).hello()).online).toBe(false);
    // Only this site's.
    const other = await relay.socket();
    expect((await other.hello({ siteKey: 'pk_other' })).online).toBe(true);
  });

  test('revoke: a visitor id that cannot be one is 404; a revocation is stamped with the relay clock', async () => {
    const relay = await setup();
    const bad = await relay.api('POST', `/v1/visitors/${encodeURIComponent('not an id!')}/revoke`);
    expect([bad.status, bad.json]).toEqual([404, envelope('NOT_FOUND')]);
    expect(await relay.api('POST', '/v1/visitors/v_someone/revoke')).toMatchObject({ status: 200, json: { visitorId: 'v_someone', revokedAt: relay.clock.now } });
  });

  test("dead letters: a site's list starts empty", async () => {
    const relay = await setup();
    expect(await relay.api('GET', '/v1/dead-letters')).toMatchObject({ status: 200, json: { items: [] } });
  });

  test("a site's requests over restRateLimit get 429 RATE_LIMITED: exactly burst, then perSecond per second; another site is unaffected", async () => {
    const relay = await setup({ limits: { restRateLimit: { perSecond: 2, burst: 5 } } });
    const flood = await Promise.all(Array.from({ length: 12 }, () => relay.api('GET', '/v1/conversations')));
    expect(flood.map((r) => r.status)).toEqual([...Array(5).fill(200), ...Array(7).fill(429)]);
    expect(flood[5]!.json).toEqual(envelope('RATE_LIMITED'));
    expect((await relay.api('GET', '/v1/conversations', undefined, API_SECRET_2)).status).toBe(200);
    relay.clock.advance(1500);
    const later = await Promise.all(Array.from({ length: 5 }, () => relay.api('GET', '/v1/conversations')));
    expect(later.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
  });
});

describe('who may read /metrics', () => {
  test('by default, loopback clients only; anyone else gets the 404 of an unknown route', async () => {
    const relay = await setup();
    const local = await relay.request({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
    expect(local.status).toBe(200);
    expect(local.text).toContain('parley_connections');
    const outside = await relay.request({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9' });
    expect([outside.status, outside.json]).toEqual([404, envelope('NOT_FOUND')]);
  });

  test('behind a trusted proxy, the forwarded client address decides', async () => {
    const relay = await setup({ config: { trustProxy: true } });
    const get = (forwarded?: string) => relay.request({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1', ...(forwarded ? { headers: { 'x-forwarded-for': forwarded } } : {}) });
    expect((await get()).status).toBe(200);
    expect((await get('203.0.113.9')).status).toBe(404);
    expect((await get('::1')).status).toBe(200);
  });

  test('with metrics.token, any address with the bearer token and nobody without it', async () => {
    const token = 'metrics-token-0123456789';
    const relay = await setup({ config: { metrics: { token } } });
    const get = (remoteAddress: string, authorization?: string) =>
      relay.request({ method: 'GET', url: '/metrics', remoteAddress, ...(authorization ? { headers: { authorization } } : {}) });
    expect((await get('203.0.113.9')).status).toBe(404);
    expect((await get('127.0.0.1')).status).toBe(404);
    expect((await get('203.0.113.9', 'Bearer wrong-token-0123456789')).status).toBe(404);
    const ok = await get('203.0.113.9', `Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('parley_webhook_deliveries_total');
  });
});
