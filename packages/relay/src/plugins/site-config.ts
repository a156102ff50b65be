import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PROTOCOL_VERSION, matchLocale, type PublicSiteConfig } from '@parley/protocol';
import type { SiteConfig } from '../config.js';
import type { Engine } from '../engine/types.js';
import { errorBody } from '../errors.js';
import { localeView } from '../site-locales.js';
import { matches } from './widget-assets.js';

/**
 * Revalidated on every use: the greeting changes only with the config, but `online` changes
 * at runtime (`POST /v1/availability`), and a revalidation that ends in 304 costs a few bytes.
 */
const SITE_CONFIG_CACHE_CONTROL = 'no-cache';

/** The public part of a site's config for a visitor's locale, as `GET /v1/sites/:siteKey/config` answers it. */
function publicSiteConfig(site: SiteConfig, online: boolean, wanted: string | undefined): PublicSiteConfig {
  const { locale, dir, greeting, strings } = localeView(site, wanted);
  const config: PublicSiteConfig = { v: PROTOCOL_VERSION, site: { name: site.name }, greeting, online, locale, dir };
  if (strings) config.strings = strings;
  // The widget shows its attach button, and refuses a file too large or of another type, from this.
  if (site.uploads) config.uploads = { maxBytes: site.uploads.maxBytes, types: site.uploads.types };
  if (site.theme) config.theme = site.theme;
  // Each trigger's message in the visitor's language (matched as the greeting is), without its other languages.
  if (site.triggers.length)
    config.triggers = site.triggers.map(({ locales, message, ...t }) => ({ ...t, message: (locales && locales[matchLocale(wanted, Object.keys(locales)) ?? '']) || message }));
  return config;
}

/** The `locale` query parameter, when it looks like a language tag (anything else is ignored). */
function wantedLocale(query: unknown): string | undefined {
  const value = (query as { locale?: unknown } | undefined)?.locale;
  return typeof value === 'string' && value.length <= 35 && /^[a-zA-Z]{1,8}([-_][a-zA-Z0-9]{1,8})*$/.test(value) ? value : undefined;
}

/**
 * `GET /v1/sites/:siteKey/config?locale=<tag>` (and HEAD): what a widget shows before it
 * connects, in the visitor's locale (greeting, strings, direction; `localeView`), as JSON
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
    // The locale is in the URL, so a cache keys on it without a Vary of its own.
    const body = JSON.stringify(publicSiteConfig(site, (await opts.engine.getOnline(site.siteKey)) ?? site.online, wantedLocale(req.query)));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    reply.headers({ etag, 'cache-control': SITE_CONFIG_CACHE_CONTROL, 'x-content-type-options': 'nosniff' });
    if (matches(req.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(body);
  });
}
