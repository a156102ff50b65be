// `GET /v1/sites/:siteKey/config` at the in-memory level (`app.inject`): what a page may read
// before it connects, who may read it, and how it is cached.
import { afterEach, describe, expect, test } from 'vitest';
import { PROTOCOL_VERSION, parsePublicSiteConfig } from '@parley/protocol';
import { API_SECRET, ORIGIN } from '../test-support/harness.js';
import { injectRelay } from '../test-support/inject.js';

const relays: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

async function setup() {
  const relay = await injectRelay();
  relays.push(relay);
  /** The site config as a page on `origin` asks for it (null: no Origin header). */
  const get = (key = 'pk_test', origin: string | null = ORIGIN, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') =>
    relay.request({ method, url: `/v1/sites/${key}/config`, headers: { ...(origin === null ? {} : { origin }), ...headers } });
  return { relay, get };
}

describe('site config', () => {
  test("an allowed origin gets the site's public config as JSON the browser guard accepts, and nothing more", async () => {
    const { get } = await setup();
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'access-control-allow-origin': ORIGIN,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    expect(res.headers.vary).toMatch(/origin/i);
    expect(res.headers.etag).toMatch(/^"[\w-]{16,}"$/);
    expect(res.json).toEqual({
      v: PROTOCOL_VERSION,
      site: { name: 'Test Shop' },
      greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
      online: true,
      locale: 'en',
      dir: 'ltr',
    });
    expect(parsePublicSiteConfig(res.json)).toEqual(res.json);
    expect(res.text).not.toContain(API_SECRET);
  });

  test('a matching If-None-Match gets 304 with no body; a change of availability gives a new ETag and the new state', async () => {
    const { relay, get } = await setup();
    const etag = String((await get()).headers.etag);
    const again = await get('pk_test', ORIGIN, { 'if-none-match': etag });
    expect([again.status, again.text, again.headers.etag]).toEqual([304, '', etag]);
    // A list of tags and a weak tag match too (RFC 9110 weak comparison).
    expect((await get('pk_test', ORIGIN, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
    expect((await get('pk_test', ORIGIN, { 'if-none-match': '"other"' })).status).toBe(200);

    expect((await relay.api('POST', '/v1/availability', { online: false })).status).toBe(200);
    const changed = await get('pk_test', ORIGIN, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.json.online).toBe(false);
  });

  test('HEAD answers the headers of GET without the body', async () => {
    const { get } = await setup();
    const full = await get();
    const head = await get('pk_test', ORIGIN, {}, 'HEAD');
    expect([head.status, head.text, head.headers.etag, head.headers['access-control-allow-origin']]).toEqual([200, '', full.headers.etag, ORIGIN]);
  });

  test('an unknown site key is 404 NOT_FOUND without CORS headers', async () => {
    const { get } = await setup();
    for (const key of ['pk_nope', 'pk_test%2F..', '']) {
      const res = await get(key);
      expect([res.status, res.json], key).toEqual([404, { error: { code: 'NOT_FOUND', message: expect.any(String) } }]);
      expect(res.headers['access-control-allow-origin'], key).toBeUndefined();
    }
  });

  test('another origin is refused with 403 ORIGIN_REFUSED; no Origin (same origin, servers) is served without CORS headers', async () => {
    const { get } = await setup();
    const evil = await get('pk_test', 'https://evil.example');
    expect([evil.status, evil.json.error.code, evil.headers['access-control-allow-origin']]).toEqual([403, 'ORIGIN_REFUSED', undefined]);
    const none = await get('pk_test', null);
    expect([none.status, none.headers['access-control-allow-origin']]).toEqual([200, undefined]);
    expect(none.json.site.name).toBe('Test Shop');
  });

  test('a site that allows any origin answers every origin, naming it', async () => {
    const { get } = await setup();
    const res = await get('pk_other', 'https://anywhere.example');
    expect([res.status, res.headers['access-control-allow-origin'], res.json.site.name]).toEqual([200, 'https://anywhere.example', 'Other Shop']);
  });
});
