/**
 * The site config, checked without zod for the browser (see server-guard.ts for why).
 * site-config.test.ts keeps it equal to the `PublicSiteConfig` schema.
 */
import { arr, bool, int, obj, parse, chars, type Infer } from './guard.js';
import { LIMITS as L } from './limits.js';
import type { PublicSiteConfig } from './site-config.js';

const siteConfig = obj({
  v: int(-Infinity),
  site: obj({ name: chars(L.maxShortLength, 1) }),
  greeting: obj({
    text: chars(L.maxTextLength, 1),
    quickReplies: arr(obj({ label: chars(L.maxLabelLength, 1), value: chars(L.maxValueLength, 1) }), L.maxQuickReplies),
  }),
  online: bool,
});

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
/** @public A compile-time check: it fails to compile when the guard and the schema differ. */
export type GuardTypeMatchesSchema = Assert<Same<Infer<typeof siteConfig>, PublicSiteConfig>>;

/** The path of a site's public config on the relay: `/v1/sites/<siteKey>/config`. */
export const siteConfigPath = (siteKey: string): string => `/v1/sites/${encodeURIComponent(siteKey)}/config`;

/** A site config, checked and stripped of unknown keys exactly as `PublicSiteConfig.safeParse` would; `undefined` when invalid. */
export const parsePublicSiteConfig = (value: unknown): PublicSiteConfig | undefined => parse(siteConfig, value);
