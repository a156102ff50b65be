import { BUILTIN_STRINGS, localeDir, matchLocale, type Greeting, type WidgetStringsPatch } from '@parley/protocol';
import type { SiteConfig } from './config.js';

/** What a site shows a visitor of one locale. */
export interface LocaleView {
  /** The locale of the strings: the best match of the visitor's, else the site's `defaultLocale`. */
  locale: string;
  dir: 'ltr' | 'rtl';
  /** The site's greeting for the visitor's locale, else its top-level one. */
  greeting: Greeting;
  /** The widget's strings for `locale` (Parley's table with the site's own wording over it); absent for plain English. */
  strings?: WidgetStringsPatch;
}

const BUILTIN_TAGS = Object.keys(BUILTIN_STRINGS);

const resolvers = new WeakMap<SiteConfig, (wanted: string | undefined) => LocaleView>();

/** What `site` shows a visitor whose locale is `wanted` (see `siteLocales`). */
export function localeView(site: SiteConfig, wanted: string | undefined): LocaleView {
  let resolve = resolvers.get(site);
  if (!resolve) resolvers.set(site, (resolve = siteLocales(site)));
  return resolve(wanted);
}

/**
 * A site's locales, ready to answer a visitor's tag (`hello.page.locale`, `?locale=`):
 * - the greeting: the best of the site's locales with a greeting, else the top-level greeting;
 * - the strings: the best of the site's locales with strings and Parley's tables, else the
 *   `defaultLocale`; Parley's table for it (by the same rule), with the site's wording over it.
 * A tag is matched exactly, then cut short, then by its language (`matchLocale`).
 */
function siteLocales(site: SiteConfig): (wanted: string | undefined) => LocaleView {
  const entries = Object.entries(site.locales);
  const greetingTags = entries.filter(([, l]) => l.greeting).map(([tag]) => tag);
  const stringTags = [...entries.filter(([, l]) => l.strings).map(([tag]) => tag), ...BUILTIN_TAGS];
  // A view per (greeting tag, strings tag): a handful per site, however many tags visitors send.
  const views = new Map<string, LocaleView>();
  return (wanted) => {
    const greetingTag = matchLocale(wanted, greetingTags);
    const locale = matchLocale(wanted, stringTags) ?? site.defaultLocale;
    const key = `${greetingTag ?? ''} ${locale}`;
    let view = views.get(key);
    if (!view) {
      const base = BUILTIN_STRINGS[matchLocale(locale, BUILTIN_TAGS) ?? ''];
      const own = site.locales[locale]?.strings;
      view = { locale, dir: localeDir(locale), greeting: (greetingTag && site.locales[greetingTag]?.greeting) || site.greeting };
      if ((base && base !== BUILTIN_STRINGS.en) || own) view.strings = { ...(base !== BUILTIN_STRINGS.en && base), ...own };
      views.set(key, view);
    }
    return view;
  };
}
