/**
 * The site config, checked without zod for the browser (see server-guard.ts for why).
 * site-config.test.ts keeps it equal to the `PublicSiteConfig` schema.
 */
import { arr, bool, int, num, obj, oneOf, opt, parse, chars, union, type Infer } from './guard.js';
import { LIMITS as L } from './limits.js';
import type { PublicSiteConfig } from './site-config.js';
import { STRING_KEYS, type StringKey } from './strings.js';
import { MAX_UPLOAD_TYPES } from './uploads.js';
import { ID_RE } from './patterns.js';
import { MAX_THEME_VALUE, MAX_TRIGGERS, PAGE_ATTR_RE } from './proactive.js';

// MAX_STRING_LENGTH of site-config.ts, not imported: that file pulls zod.
const text = opt(chars(L.maxShortLength, 1));
const strings = obj(Object.fromEntries(STRING_KEYS.map((k) => [k, text])) as Record<StringKey, typeof text>);

const greeting = obj({
  text: chars(L.maxTextLength, 1),
  quickReplies: arr(obj({ label: chars(L.maxLabelLength, 1), value: chars(L.maxValueLength, 1) }), L.maxQuickReplies),
});
const themeText = chars(MAX_THEME_VALUE, 1);
const length = union(num, themeText);
const theme = obj({
  primary: opt(themeText),
  position: opt(oneOf('left', 'right')),
  offset: opt(union(num, themeText, obj({ x: opt(length), y: opt(length) }))),
  zIndex: opt(int(-Infinity)),
});
const trigger = obj({
  id: chars(L.maxIdLength, 1, ID_RE),
  when: obj({
    afterSec: opt(int()),
    url: opt(chars(L.maxUrlLength, 1)),
    scrollPct: opt(int(0, 100)),
    exitIntent: opt(bool),
    returning: opt(bool),
    attr: opt(obj({ name: chars(Infinity, 0, PAGE_ATTR_RE), gte: opt(num), lte: opt(num), eq: opt(chars(L.maxShortLength)) })),
  }),
  message: greeting,
  everyDays: opt(int()),
});

const siteConfig = obj({
  v: int(-Infinity),
  site: obj({ name: chars(L.maxShortLength, 1) }),
  greeting,
  online: bool,
  locale: opt(chars(35, 1)),
  dir: opt(oneOf('ltr', 'rtl')),
  strings: opt(strings),
  uploads: opt(obj({ maxBytes: int(), types: arr(chars(L.maxShortLength, 1), MAX_UPLOAD_TYPES) })),
  theme: opt(theme),
  triggers: opt(arr(trigger, MAX_TRIGGERS)),
});

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
/** @public A compile-time check: it fails to compile when the guard and the schema differ. */
export type GuardTypeMatchesSchema = Assert<Same<Infer<typeof siteConfig>, PublicSiteConfig>>;

/** The path of a site's public config on the relay: `/v1/sites/<siteKey>/config`. */
export const siteConfigPath = (siteKey: string): string => `/v1/sites/${encodeURIComponent(siteKey)}/config`;

/** A site config, checked and stripped of unknown keys exactly as `PublicSiteConfig.safeParse` would; `undefined` when invalid. */
export const parsePublicSiteConfig = (value: unknown): PublicSiteConfig | undefined => parse(siteConfig, value);
