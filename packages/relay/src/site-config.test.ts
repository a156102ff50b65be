import { parsePublicSiteConfig, PROTOCOL_VERSION } from '@parley/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import { API_SECRET, ORIGIN, startRelay, testConfig } from './test-support/harness.js';

const HOOK = 'http://127.0.0.1:9/hook';
const relays: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

async function relay(overrides: Parameters<typeof testConfig>[1] = {}) {
  const r = await startRelay(testConfig(HOOK, overrides));
  relays.push(r);
  return r;
}

const url = (base: string, key = 'pk_test') => `${base}/v1/sites/${key}/config`;

describe('site config', () => {
  test("answers the site's public config as JSON the browser guard accepts, to an allowed origin", async () => {
    const { base } = await relay();
    const res = await fetch(url(base), { headers: { origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('vary')).toMatch(/origin/i);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('etag')).toMatch(/^"[\w-]{16,}"$/);
    const body = await res.json();
    expect(parsePublicSiteConfig(body)).toEqual(body);
    expect(body).toMatchObject({ v: PROTOCOL_VERSION, site: { name: expect.any(String) }, greeting: { text: expect.any(String) }, online: true });
    // Only what a page may see: no secret, no webhook URL, no origin list.
    expect(Object.keys(body).sort()).toEqual(['greeting', 'online', 'site', 'v']);
    expect(JSON.stringify(body)).not.toContain(API_SECRET);
  });

  test('answers 304 to a matching If-None-Match, and a new ETag once availability changes', async () => {
    const { base } = await relay();
    const first = await fetch(url(base), { headers: { origin: ORIGIN } });
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();
    const again = await fetch(url(base), { headers: { origin: ORIGIN, 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(again.headers.get('etag')).toBe(etag);

    const off = await fetch(`${base}/v1/availability`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ online: false }),
    });
    expect(off.status).toBeLessThan(300);
    const changed = await fetch(url(base), { headers: { origin: ORIGIN, 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect((await changed.json()).online).toBe(false);
  });

  test('an unknown site key is 404 NOT_FOUND with the JSON error body', async () => {
    const { base } = await relay();
    for (const key of ['pk_nope', 'pk_test%2F..', '']) {
      const res = await fetch(url(base, key), { headers: { origin: ORIGIN } });
      expect(res.status, key).toBe(404);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
    }
  });

  test('another origin is refused with 403 ORIGIN_REFUSED; no Origin (same origin, servers) is served without CORS headers', async () => {
    const { base } = await relay();
    const evil = await fetch(url(base), { headers: { origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(await evil.json()).toMatchObject({ error: { code: 'ORIGIN_REFUSED' } });

    const none = await fetch(url(base));
    expect(none.status).toBe(200);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('a site that allows any origin answers every origin', async () => {
    const { base } = await relay();
    const res = await fetch(url(base, 'pk_other'), { headers: { origin: 'https://anywhere.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://anywhere.example');
  });
});
