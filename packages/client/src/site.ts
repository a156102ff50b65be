import { parsePublicSiteConfig, siteConfigPath } from '@parley/protocol';
import { relayHttpUrl } from './relay-url.js';
import type { createStore } from './storage.js';
import type { ClientOptions, Snapshot } from './types.js';

type Store = ReturnType<typeof createStore>;

/**
 * The site's public config in the visitor's language (`tag`), as snapshot fields: the strings,
 * uploads, theme and triggers, and the greeting, name and status unless `welcomed` (the relay's
 * welcome brought them, and wins). Null when there is none to be had (blocked, offline, not a
 * config). While unchanged, the browser's revalidation costs a 304.
 */
export const fetchSite = (o: ClientOptions, tag: string | undefined, welcomed: () => boolean): Promise<Partial<Snapshot> | null> =>
  (o.fetch ?? fetch)(relayHttpUrl(o.relayUrl, siteConfigPath(o.siteKey)) + (tag ? '?locale=' + encodeURIComponent(tag) : ''))
    .then((r) => r.json())
    .then((json) => {
      const c = parsePublicSiteConfig(json);
      return c
        ? {
          ...(!welcomed() && { greeting: c.greeting, siteName: c.site.name, online: c.online }),
          lang: c.locale ? { locale: c.locale, dir: c.dir || 'ltr', strings: c.strings } : null,
          uploads: c.uploads || null,
          theme: c.theme,
          triggers: c.triggers,
        }
        : null;
    })
    .catch(() => null);

/**
 * The site as the last page kept it: its name, status and theme at once; its greeting and
 * strings only when kept in this language (else they wait for the relay's in this one).
 */
export const keptSite = (store: Store, tag: string | undefined): Partial<Snapshot> => {
  const g = store.get('greet');
  return g ? { siteName: g.siteName, online: g.online, theme: g.theme, ...(g.tag === tag && { greeting: g.greeting, lang: g.lang || null }) } : {};
};

/** Keep the site as last seen, in the visitor's language, for the next page to show at once. */
export const keepSite = (store: Store, s: Snapshot, tag: string | undefined) =>
  store.set('greet', { greeting: s.greeting!, siteName: s.siteName, online: s.online, tag, lang: s.lang, theme: s.theme });
