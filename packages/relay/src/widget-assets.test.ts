import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, test } from 'vitest';
import { buildApp } from './app.js';
import { ConfigError } from './config.js';
import { startRelay, testConfig } from './test-support/harness.js';

const HOOK = 'http://127.0.0.1:9/hook';
const LOADER = '/* loader */ (function(){ window.Parley = window.Parley || function(){}; })();\n';
const BUNDLE = '/* bundle */ (function(){ var ParleyBundle = {}; })();\n';
/** A bundle big and repetitive enough that compression shows. */
const BIG = `/* bundle */ ${'window.ParleyBundle = (window.ParleyBundle || 0) + 1;\n'.repeat(400)}`;
const relays: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

/** A directory holding the given files. */
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-assets-'));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

async function relayWith(assets?: string[]) {
  const relay = await startRelay(testConfig(HOOK, assets ? { assets } : {}));
  relays.push(relay);
  return relay;
}

/** A GET with the path sent byte for byte (fetch would normalise `..`) and the body as it came, not decompressed. */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; raw: Buffer; headers: Record<string, string | string[] | undefined> }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, body: raw.toString(), raw, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function missingKey(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('the relay started');
}

describe('widget assets', () => {
  test('serves loader.js and parley.iife.js with script type, caching, CORS and CORP headers', async () => {
    const { base } = await relayWith([dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE })]);
    const loader = await fetch(`${base}/parley/loader.js`);
    expect(loader.status).toBe(200);
    expect(await loader.text()).toBe(LOADER);
    expect(loader.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(loader.headers.get('cache-control')).toBe('public, max-age=300');
    expect(loader.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(loader.headers.get('access-control-allow-origin')).toBe('*');
    expect(loader.headers.get('etag')).toMatch(/^"[\w-]{16,}"$/);

    const bundle = await fetch(`${base}/parley/parley.iife.js`);
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toBe(BUNDLE);
    expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(bundle.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(bundle.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(bundle.headers.get('access-control-allow-origin')).toBe('*');
    expect(bundle.headers.get('etag')).toMatch(/^"[\w-]{16,}"$/);
    expect(bundle.headers.get('etag')).not.toBe(loader.headers.get('etag'));
  });

  test('answers 304 with no body to a matching If-None-Match, and 200 to a stale one', async () => {
    const { base } = await relayWith([dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE })]);
    for (const name of ['loader.js', 'parley.iife.js']) {
      const first = await fetch(`${base}/parley/${name}`);
      const etag = first.headers.get('etag')!;
      await first.arrayBuffer();
      for (const header of [etag, `"stale", ${etag}`, `W/${etag}`, '*']) {
        const again = await fetch(`${base}/parley/${name}`, { headers: { 'if-none-match': header } });
        expect(again.status, `${name} ${header}`).toBe(304);
        expect(await again.text()).toBe('');
        expect(again.headers.get('etag')).toBe(etag);
        expect(again.headers.get('cache-control')).toMatch(/^public, max-age=/);
      }
      const stale = await fetch(`${base}/parley/${name}`, { headers: { 'if-none-match': '"an-older-build"' } });
      expect(stale.status).toBe(200);
      expect((await stale.text()).length).toBeGreaterThan(0);
    }
  });

  test('answers brotli, gzip or the file as it is, as Accept-Encoding allows, and varies on it', async () => {
    const { base } = await relayWith([dirWith({ 'loader.js': LOADER, 'parley.iife.js': BIG })]);
    const path = '/parley/parley.iife.js';
    const br = await rawGet(base, path, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(brotliDecompressSync(br.raw).toString()).toBe(BIG);
    expect(br.raw.byteLength).toBeLessThan(BIG.length / 10);
    expect(br.headers['content-length']).toBe(String(br.raw.byteLength));

    const gz = await rawGet(base, path, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(gunzipSync(gz.raw).toString()).toBe(BIG);

    for (const accept of [undefined, 'identity', 'br;q=0, gzip;q=0', 'deflate']) {
      const plain = await rawGet(base, path, accept === undefined ? {} : { 'accept-encoding': accept });
      expect(plain.headers['content-encoding'], String(accept)).toBeUndefined();
      expect(plain.headers.vary).toBe('Accept-Encoding');
      expect(plain.body, String(accept)).toBe(BIG);
    }
    // q=0 refuses a coding; `*` stands for the ones not named.
    expect((await rawGet(base, path, { 'accept-encoding': 'br;q=0, gzip' })).headers['content-encoding']).toBe('gzip');
    expect((await rawGet(base, path, { 'accept-encoding': '*' })).headers['content-encoding']).toBe('br');
    // Each coding is its own representation with its own ETag, each revalidated to 304.
    const tags = new Set([br, gz].map((r) => r.headers.etag));
    expect(tags.size).toBe(2);
    for (const [accept, r] of [['br', br], ['gzip', gz]] as const) {
      const again = await rawGet(base, path, { 'accept-encoding': accept, 'if-none-match': String(r.headers.etag) });
      expect(again.status).toBe(304);
      expect(again.raw.byteLength).toBe(0);
      expect(again.headers.vary).toBe('Accept-Encoding');
    }
  });

  test('a new build gets a new ETag, so caches fetch it again', async () => {
    const a = await relayWith([dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE })]);
    const b = await relayWith([dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE + '// v2\n' })]);
    const etagA = (await fetch(`${a.base}/parley/parley.iife.js`)).headers.get('etag')!;
    const res = await fetch(`${b.base}/parley/parley.iife.js`, { headers: { 'if-none-match': etagA } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(BUNDLE + '// v2\n');
  });

  test('HEAD answers the headers and length without a body', async () => {
    const { base } = await relayWith([dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE })]);
    const res = await fetch(`${base}/parley/loader.js`, { method: 'HEAD', headers: { 'accept-encoding': 'identity' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(LOADER)));
    expect(res.headers.get('etag')).toMatch(/^"/);
    expect(await res.text()).toBe('');
  });

  test('serves only the two names: other files in the directory, other names and traversal attempts are 404', async () => {
    const dir = dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE, 'secret.json': '{"apiSecret":"do-not-serve"}', 'index.js': 'x' });
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    writeFileSync(join(sub, 'loader.js'), 'nested');
    // The relay serves from `sub`; its parent holds files that must stay unreachable.
    const { base } = await relayWith([sub, dir]);
    const paths = [
      '/parley/secret.json',
      '/parley/index.js',
      '/parley/sub/loader.js',
      '/parley/LOADER.JS',
      '/parley/',
      '/parley',
      '/parley/../secret.json',
      '/parley/..%2fsecret.json',
      '/parley/%2e%2e/secret.json',
      '/parley/%2e%2e%2fsecret.json',
      '/parley/loader.js/../secret.json',
      '/parley/loader.js%00.json',
      '/parley//etc/passwd',
      '/parley/..\\secret.json',
      '/secret.json',
      '/loader.js',
    ];
    for (const path of paths) {
      const res = await rawGet(base, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('do-not-serve');
      expect(JSON.parse(res.body), path).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
    // The first directory that holds a name wins.
    expect(await (await fetch(`${base}/parley/loader.js`)).text()).toBe('nested');
    expect(await (await fetch(`${base}/parley/parley.iife.js`)).text()).toBe(BUNDLE);
  });

  test('without `assets` the routes do not exist (404)', async () => {
    const { base } = await relayWith();
    for (const name of ['loader.js', 'parley.iife.js']) {
      const res = await fetch(`${base}/parley/${name}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
  });

  test('searches the directories in order, so the two files may sit in different ones', async () => {
    const loaderDir = dirWith({ 'loader.js': LOADER });
    const bundleDir = dirWith({ 'parley.iife.js': BUNDLE });
    const { base } = await relayWith([join(loaderDir, 'does-not-exist'), loaderDir, bundleDir]);
    expect(await (await fetch(`${base}/parley/loader.js`)).text()).toBe(LOADER);
    expect(await (await fetch(`${base}/parley/parley.iife.js`)).text()).toBe(BUNDLE);
  });

  test('reads the files once at start-up: later changes on disk are not served', async () => {
    const dir = dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE });
    const { base } = await relayWith([dir]);
    writeFileSync(join(dir, 'loader.js'), 'changed');
    rmSync(join(dir, 'parley.iife.js'));
    expect(await (await fetch(`${base}/parley/loader.js`)).text()).toBe(LOADER);
    expect(await (await fetch(`${base}/parley/parley.iife.js`)).text()).toBe(BUNDLE);
  });

  test('a file found in none of the directories stops start-up with a ConfigError naming `assets`', () => {
    const onlyLoader = dirWith({ 'loader.js': LOADER });
    const noBundle = missingKey(() => buildApp(testConfig(HOOK, { assets: [onlyLoader] }), { logger: false }));
    expect(noBundle.key).toBe('assets');
    expect(noBundle.message).toMatch(/^Invalid relay config: assets: parley\.iife\.js not found in /);
    expect(noBundle.message).toContain(onlyLoader);

    const empty = dirWith({});
    const neither = missingKey(() => buildApp(testConfig(HOOK, { assets: [empty, join(empty, 'gone')] }), { logger: false }));
    expect(neither.key).toBe('assets');
    expect(neither.message).toContain('loader.js and parley.iife.js not found');

    expect(missingKey(() => buildApp(testConfig(HOOK, { assets: [] }), { logger: false })).key).toBe('assets');
  });

  test('serves the triggers module the bundle loads beside itself when there is one; a build without it still starts', async () => {
    const TRIGGERS = '/* triggers */ var ParleyTriggers = {};\n';
    const { base } = await relayWith([dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE, 'parley-triggers.js': TRIGGERS })]);
    const res = await fetch(`${base}/parley/parley-triggers.js`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(TRIGGERS);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');

    const { base: older } = await relayWith([dirWith({ 'loader.js': LOADER, 'parley.iife.js': BUNDLE })]);
    expect((await fetch(`${older}/parley/parley-triggers.js`)).status).toBe(404);
  });
});
