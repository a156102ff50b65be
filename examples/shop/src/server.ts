import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const repo = join(root, '..', '..');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

export interface ShopOptions {
  port?: number;
  host?: string;
  /** The relay's base URL, as the browser reaches it. A function is read on every request. */
  relayUrl: string | (() => string);
  siteKey: string;
  /** Content-Security-Policy for HTML pages; `null` sends none. Defaults to a strict policy. */
  csp?: string | null;
  /** Extra folders of static files (test fixtures), looked up before `public/`. */
  staticDirs?: string[];
  /** Extra options passed to `Parley('boot', …)`. */
  boot?: Record<string, unknown>;
  /**
   * Origins visitors' attachments are uploaded to and shown from (the site's `uploads.hosts`),
   * allowed by the strict CSP's `connect-src` and `img-src`. Read on every request.
   */
  uploadOrigins?: () => string[];
  /**
   * The demo shopper's signed identity, served at `/account/identity` for the page's
   * "Sign in" link: in a real shop, the server signs the logged-in user's id.
   */
  identity?: () => Promise<unknown>;
}

export interface Shop {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * The strict policy the demo shop runs under: no inline script or style anywhere. Card
 * images come from the shop's own URLs, named here too so the page works under either
 * of the shop's host names (127.0.0.1 or localhost). Attachments are uploaded to (`connect-src`)
 * and shown from (`img-src`) the upload origins; the widget's upload code comes from beside its
 * bundle (`script-src 'self'` here).
 */
export function strictCsp(relayUrl: string, imageOrigins: string[] = [], uploadOrigins: string[] = []): string {
  const ws = relayUrl.replace(/^http/, 'ws');
  const img = ["'self'", ...imageOrigins, ...uploadOrigins].join(' ');
  const connect = ["'self'", relayUrl, ws, ...uploadOrigins].join(' ');
  // The relay's http(s) origin for the site config, its ws(s) origin for the socket.
  return `default-src 'self'; script-src 'self'; style-src 'self'; img-src ${img}; connect-src ${connect}`;
}

/** A file as served: its body in each coding, compressed once per version of the file. */
interface Served {
  mtimeMs: number;
  size: number;
  identity: Buffer;
  br?: Buffer;
  gzip?: Buffer;
  etag: string;
}
const served = new Map<string, Served>();
const COMPRESSIBLE = /^(text\/|application\/json|image\/svg)/;

/** Read `file` (again only when it changed on disk), compressing text once. */
async function load(file: string, type: string): Promise<Served> {
  const { mtimeMs, size } = await stat(file);
  const hit = served.get(file);
  if (hit && hit.mtimeMs === mtimeMs && hit.size === size) return hit;
  const identity = await readFile(file);
  const etag = `"${createHash('sha256').update(identity).digest('base64url').slice(0, 27)}"`;
  const entry: Served = { mtimeMs, size, identity, etag };
  if (COMPRESSIBLE.test(type) && identity.byteLength > 256) {
    entry.br = brotliCompressSync(identity, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
    entry.gzip = gzipSync(identity, { level: 9 });
  }
  served.set(file, entry);
  return entry;
}

/** The best coding the request accepts among those `entry` has: brotli, gzip, or none. */
function coding(req: IncomingMessage, entry: Served): 'br' | 'gzip' | undefined {
  const q = new Map<string, number>();
  for (const part of String(req.headers['accept-encoding'] ?? '').toLowerCase().split(',')) {
    const [name = '', ...params] = part.split(';').map((x) => x.trim());
    const weight = params.find((x) => x.startsWith('q='));
    if (name) q.set(name, weight ? Number(weight.slice(2)) : 1);
  }
  const allows = (name: string) => (q.get(name) ?? q.get('*') ?? 0) > 0;
  if (entry.br && allows('br')) return 'br';
  if (entry.gzip && allows('gzip')) return 'gzip';
  return undefined;
}

/** Serve the demo shop, the Parley loader and the widget bundle. */
export async function startShop(options: ShopOptions): Promise<Shop> {
  const relayUrl = () => (typeof options.relayUrl === 'function' ? options.relayUrl() : options.relayUrl);
  const dirs = [...(options.staticDirs ?? []), join(root, 'public')];
  const shopOrigins: string[] = [];
  const assets: Record<string, string> = {
    '/parley/loader.js': join(repo, 'packages/loader/dist/loader.js'),
    '/parley/parley.iife.js': join(repo, 'packages/widget/dist/parley.iife.js'),
    '/parley/parley-upload.js': join(repo, 'packages/widget/dist/parley-upload.js'),
    '/parley/parley-triggers.js': join(repo, 'packages/widget/dist/parley-triggers.js'),
    '/parley/parley-extras.js': join(repo, 'packages/widget/dist/parley-extras.js'),
    '/parley/parley-connection.js': join(repo, 'packages/widget/dist/parley-connection.js'),
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://shop.local');
    let path = decodeURIComponent(url.pathname);
    if (path.endsWith('/')) path += 'index.html';
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/boot.js') {
      const boot = { siteKey: options.siteKey, relayUrl: relayUrl(), ...options.boot };
      res.writeHead(200, { 'content-type': TYPES['.js']!, 'cache-control': 'no-store' });
      // `?lang=ar` on any page shows the chat in that language (the browser's language otherwise).
      const lang = '/[?&]lang=([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)(&|$)/.exec(location.search)';
      res.end(`(function (m) {\n  Parley('boot', Object.assign(${JSON.stringify(boot)}, m ? { locale: m[1] } : {}));\n})(${lang});\n`);
      return;
    }
    if (path === '/account/identity' && options.identity) {
      try {
        const identity = await options.identity();
        res.writeHead(200, { 'content-type': TYPES['.json']!, 'cache-control': 'no-store' });
        res.end(JSON.stringify(identity));
      } catch {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('Sign-in is unavailable');
      }
      return;
    }
    const candidates = assets[path] ? [assets[path]!] : dirs.map((d) => safeJoin(d, path)).filter((p): p is string => p !== null);
    for (const file of candidates) {
      let entry: Served;
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      try {
        entry = await load(file, type);
      } catch {
        continue; // try the next folder
      }
      const enc = coding(req, entry);
      // The widget's files are revalidated by ETag (a new build is fetched at once, an unchanged
      // one costs a 304); the demo pages themselves are never cached.
      const widget = path.startsWith('/parley/');
      const etag = enc ? entry.etag.replace(/"$/, `-${enc}"`) : entry.etag;
      const headers: Record<string, string> = { 'content-type': type, 'cache-control': widget ? 'no-cache' : 'no-store', vary: 'Accept-Encoding' };
      if (widget) headers.etag = etag;
      const csp = options.csp === undefined ? strictCsp(relayUrl(), shopOrigins, options.uploadOrigins?.() ?? []) : options.csp;
      if (type.startsWith('text/html') && csp) headers['content-security-policy'] = csp;
      if (widget && String(req.headers['if-none-match'] ?? '').split(/\s*,\s*/).includes(etag)) {
        res.writeHead(304, headers).end();
        return;
      }
      if (enc) headers['content-encoding'] = enc;
      res.writeHead(200, headers);
      res.end(enc ? entry[enc] : entry.identity);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not found');
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  shopOrigins.push(`http://127.0.0.1:${port}`, `http://localhost:${port}`);
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function safeJoin(dir: string, path: string): string | null {
  const base = resolve(dir);
  const full = resolve(join(base, path));
  return full.startsWith(base + sep) ? full : null;
}
