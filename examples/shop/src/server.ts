import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

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
 * of the shop's host names (127.0.0.1 or localhost).
 */
export function strictCsp(relayUrl: string, imageOrigins: string[] = []): string {
  const ws = relayUrl.replace(/^http/, 'ws');
  const img = ["'self'", ...imageOrigins].join(' ');
  return `default-src 'self'; script-src 'self'; style-src 'self'; img-src ${img}; connect-src 'self' ${ws}`;
}

/** Serve the demo shop, the Parley loader and the widget bundle. */
export async function startShop(options: ShopOptions): Promise<Shop> {
  const relayUrl = () => (typeof options.relayUrl === 'function' ? options.relayUrl() : options.relayUrl);
  const dirs = [...(options.staticDirs ?? []), join(root, 'public')];
  const shopOrigins: string[] = [];
  const assets: Record<string, string> = {
    '/parley/loader.js': join(repo, 'packages/loader/dist/loader.js'),
    '/parley/parley.iife.js': join(repo, 'packages/widget/dist/parley.iife.js'),
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
      res.end(`Parley('boot', ${JSON.stringify(boot)});\n`);
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
      try {
        const body = await readFile(file);
        const type = TYPES[extname(file)] ?? 'application/octet-stream';
        const headers: Record<string, string> = { 'content-type': type, 'cache-control': 'no-store' };
        const csp = options.csp === undefined ? strictCsp(relayUrl(), shopOrigins) : options.csp;
        if (type.startsWith('text/html') && csp) headers['content-security-policy'] = csp;
        res.writeHead(200, headers);
        res.end(body);
        return;
      } catch {
        // try the next folder
      }
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
