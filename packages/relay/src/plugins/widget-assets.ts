import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../config.js';

/**
 * The files the relay serves under `/parley/`, with their cache lifetimes. A fixed list: no
 * other name is ever looked up, so no request path reaches the file system. The loader is
 * cached briefly because merchants' pages point at it by a stable URL; the bundle it loads
 * may be cached longer, and so may the attachment code the bundle loads on first use.
 */
const WIDGET_ASSETS = {
  'loader.js': 'public, max-age=300',
  'parley.iife.js': 'public, max-age=3600',
  'parley-upload.js': 'public, max-age=3600',
  // Loaded by the bundle when the site config has proactive triggers.
  'parley-triggers.js': 'public, max-age=3600',
  // Loaded by the bundle when a rarer state shows or becomes likely (a rating asked for, nobody
  // online, past conversations, a card in the log).
  'parley-extras.js': 'public, max-age=3600',
  // Loaded by the bundle when the visitor first connects (opens the chat, sends, a trigger shows;
  // at once for a returning visitor): the client's frame guard and connection code.
  'parley-connection.js': 'public, max-age=3600',
} as const;
export type WidgetAssetName = keyof typeof WIDGET_ASSETS;

/** Served when found, not required: a widget build from before attachments (or triggers, extras, the split connection code) has no such module. */
const OPTIONAL_ASSETS: ReadonlySet<WidgetAssetName> = new Set(['parley-upload.js', 'parley-triggers.js', 'parley-extras.js', 'parley-connection.js']);

/** A content coding the relay can answer with; `identity` is the file as it is. */
type Coding = 'br' | 'gzip' | 'identity';

/** One served file, held in memory in every coding, each compressed once at start-up. */
export interface WidgetAsset {
  body: Buffer;
  /** Strong ETag of the file as it is: a hash of the body. */
  etag: string;
  /** The body and its strong ETag in each coding (a representation per coding, as RFC 9110 asks). */
  encoded: Record<Coding, { body: Buffer; etag: string }>;
  cacheControl: string;
  /** The file it was read from. */
  path: string;
}

/** The body of `body` in every coding: brotli at its best quality, gzip at level 9. */
function precompress(body: Buffer, etag: string): WidgetAsset['encoded'] {
  const tag = (suffix: string) => etag.replace(/"$/, `-${suffix}"`);
  return {
    br: { body: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength } }), etag: tag('br') },
    gzip: { body: gzipSync(body, { level: 9 }), etag: tag('gz') },
    identity: { body, etag },
  };
}

/**
 * The coding to answer an `Accept-Encoding` header with: brotli, else gzip, else the file as it
 * is. A coding listed with `q=0` is refused; `*` stands for any coding not listed.
 */
function pickCoding(acceptEncoding: string | undefined): Coding {
  if (!acceptEncoding) return 'identity';
  const q = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const weight = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find(Boolean);
    if (name) q.set(name.trim(), weight ? Number(weight[1]) : 1);
  }
  const ok = (c: string) => (q.get(c) ?? q.get('*') ?? 0) > 0;
  return ok('br') ? 'br' : ok('gzip') || ok('x-gzip') ? 'gzip' : 'identity';
}

/**
 * Read every file of `WIDGET_ASSETS` from the first of `dirs` that holds it (relative dirs
 * resolve against the working directory). Throws `ConfigError` naming `assets` when a required
 * file is in none of them.
 */
export function loadWidgetAssets(dirs: readonly string[]): Map<WidgetAssetName, WidgetAsset> {
  const assets = new Map<WidgetAssetName, WidgetAsset>();
  const missing: string[] = [];
  for (const [name, cacheControl] of Object.entries(WIDGET_ASSETS) as [WidgetAssetName, string][]) {
    const found = findFile(dirs, name);
    if (!found) {
      if (!OPTIONAL_ASSETS.has(name)) missing.push(name);
      continue;
    }
    const etag = `"${createHash('sha256').update(found.body).digest('base64url').slice(0, 32)}"`;
    assets.set(name, { body: found.body, etag, encoded: precompress(found.body, etag), cacheControl, path: found.path });
  }
  if (missing.length) {
    const searched = dirs.map((d) => resolve(d)).join(', ');
    throw new ConfigError(`Invalid relay config: assets: ${missing.join(' and ')} not found in ${searched}`, 'assets');
  }
  return assets;
}

function findFile(dirs: readonly string[], name: string): { body: Buffer; path: string } | undefined {
  for (const dir of dirs) {
    const path = resolve(join(dir, name));
    try {
      return { body: readFileSync(path), path };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') continue;
      throw new ConfigError(`Invalid relay config: assets: cannot read ${path}: ${(err as Error).message}`, 'assets');
    }
  }
  return undefined;
}

/** Whether an `If-None-Match` header matches `etag` (weak comparison, as RFC 9110 asks). */
export function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

/**
 * `GET /parley/loader.js`, `GET /parley/parley.iife.js`, `GET /parley/parley-upload.js`,
 * `GET /parley/parley-triggers.js`, `GET /parley/parley-extras.js` and `GET /parley/parley-connection.js` (and HEAD): the widget's script-tag files from memory, loadable from any shop's page, brotli- or gzip-compressed as the request's
 * `Accept-Encoding` allows (`vary: accept-encoding`).
 */
export async function widgetAssetsPlugin(app: FastifyInstance, opts: { assets: Map<WidgetAssetName, WidgetAsset> }): Promise<void> {
  for (const [name, asset] of opts.assets) {
    app.get(`/parley/${name}`, async (req, reply) => {
      const coding = pickCoding(req.headers['accept-encoding']);
      const { body, etag } = asset.encoded[coding];
      reply.headers({
        etag,
        'cache-control': asset.cacheControl,
        vary: 'Accept-Encoding',
        'cross-origin-resource-policy': 'cross-origin',
        'access-control-allow-origin': '*',
        'x-content-type-options': 'nosniff',
      });
      if (matches(req.headers['if-none-match'], etag)) return reply.code(304).send();
      if (coding !== 'identity') reply.header('content-encoding', coding);
      return reply.type('text/javascript; charset=utf-8').send(body);
    });
  }
}
