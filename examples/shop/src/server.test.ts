// The demo shop serves the widget's files compressed, as a merchant's server should.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startShop, strictCsp, type Shop } from './server.js';

const BUNDLE = fileURLToPath(new URL('../../../packages/widget/dist/parley.iife.js', import.meta.url));
const LOADER = fileURLToPath(new URL('../../../packages/loader/dist/loader.js', import.meta.url));

let shop: Shop;
beforeAll(async () => {
  shop = await startShop({ relayUrl: 'http://127.0.0.1:9', siteKey: 'pk_demo', port: 0 });
});
afterAll(() => shop.close());

/** A GET whose body is returned as it came over the wire (fetch would decompress it). */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(shop.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the demo shop serves the widget compressed', () => {
  test('Accept-Encoding br gets a brotli body that decompresses to the built file', async () => {
    for (const [path, file] of [['/parley/parley.iife.js', BUNDLE], ['/parley/loader.js', LOADER]] as const) {
      const res = await get(path, { 'accept-encoding': 'gzip, deflate, br' });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBe('br');
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect(brotliDecompressSync(res.body).equals(readFileSync(file))).toBe(true);
    }
  });

  test('gzip when brotli is not accepted, the file as it is when nothing is', async () => {
    const gz = await get('/parley/parley.iife.js', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(readFileSync(BUNDLE))).toBe(true);
    for (const accept of [undefined, 'identity', 'br;q=0']) {
      const plain = await get('/parley/parley.iife.js', accept ? { 'accept-encoding': accept } : {});
      expect(plain.headers['content-encoding'], String(accept)).toBeUndefined();
      expect(plain.body.equals(readFileSync(BUNDLE))).toBe(true);
    }
  });

  test('a matching If-None-Match gets 304 with no body; the pages themselves are never cached', async () => {
    const first = await get('/parley/parley.iife.js', { 'accept-encoding': 'br' });
    expect(first.headers['cache-control']).toBe('no-cache');
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await get('/parley/parley.iife.js', { 'accept-encoding': 'br', 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.byteLength).toBe(0);
    // Another coding is another representation: its own ETag.
    expect((await get('/parley/parley.iife.js', { 'accept-encoding': 'gzip', 'if-none-match': etag })).status).toBe(200);
    const page = await get('/', { 'accept-encoding': 'br' });
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['content-encoding']).toBe('br');
  });

  test("the strict policy lets the page reach the relay's site config and socket, and nothing else", () => {
    expect(strictCsp('http://127.0.0.1:8787')).toContain("connect-src 'self' http://127.0.0.1:8787 ws://127.0.0.1:8787");
  });
});
