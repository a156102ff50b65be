import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PROTOCOL_VERSION, type PublicSiteConfig } from '@parley/protocol';
import type { SiteConfig } from '../config.js';
import type { Engine } from '../engine/types.js';
import { errorBody } from '../errors.js';
import { matches } from './widget-assets.js';

/**
 * Revalidated on every use: the greeting changes only with the config, but `online` changes
 * at runtime (`POST /v1/availability`), and a revalidation that ends in 304 costs a few bytes.
 */
const SITE_CONFIG_CACHE_CONTROL = 'no-cache';

/** The public part of a site's config, as `GET /v1/sites/:siteKey/config` answers it. */
function publicSiteConfig(site: SiteConfig, online: boolean): PublicSiteConfig {
  return { v: PROTOCOL_VERSION, site: { name: site.name }, greeting: site.greeting, online };
}

/**
 * `GET /v1/sites/:siteKey/config` (and HEAD): what a widget shows before it connects, as JSON
 * with a strong ETag (`If-None-Match` → 304). A page on one of the site's allowed origins may
 * read it (`access-control-allow-origin` names that origin); another origin gets 403
 * `ORIGIN_REFUSED`; a request without `Origin` (same origin, server side) gets it without CORS
 * headers. An unknown site key is 404 `NOT_FOUND`.
 */
export async function siteConfigPlugin(app: FastifyInstance, opts: { sites: readonly SiteConfig[]; engine: Engine }): Promise<void> {
  const sites = new Map(opts.sites.map((s) => [s.siteKey, s]));
  app.get<{ Params: { siteKey: string } }>('/v1/sites/:siteKey/config', async (req, reply) => {
    // The answer depends on the page's origin: shared caches must key on it.
    reply.header('vary', 'Origin');
    const site = sites.get(req.params.siteKey);
    if (!site) return reply.code(404).send(errorBody('NOT_FOUND', 'No such site.'));
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!site.allowedOrigins.includes('*') && !site.allowedOrigins.includes(origin)) return reply.code(403).send(errorBody('ORIGIN_REFUSED'));
      reply.header('access-control-allow-origin', origin);
    }
    const body = JSON.stringify(publicSiteConfig(site, (await opts.engine.getOnline(site.siteKey)) ?? site.online));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    reply.headers({ etag, 'cache-control': SITE_CONFIG_CACHE_CONTROL, 'x-content-type-options': 'nosniff' });
    if (matches(req.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(body);
  });
}
