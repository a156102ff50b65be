import { z } from 'zod/mini';
import { Greeting } from './frames.js';
import { LIMITS } from './limits.js';
import { Id, str } from './schemas.js';
import { STRING_KEYS, type StringKey } from './strings.js';
import { MAX_UPLOAD_TYPES } from './uploads.js';
import { MAX_THEME_VALUE, MAX_TRIGGERS, PAGE_ATTR_RE } from './proactive.js';

/** Longest widget string, in characters (the longest built-in one is under 100). */
export const MAX_STRING_LENGTH = LIMITS.maxShortLength;

/**
 * Some or all of the widget's strings (`strings.ts`): a translation, or a site's own wording.
 * Unknown keys are dropped, so a newer relay's keys do not break an older widget.
 */
export const WidgetStringsPatch = z.partial(
  z.object(Object.fromEntries(STRING_KEYS.map((k) => [k, str(MAX_STRING_LENGTH)])) as Record<StringKey, ReturnType<typeof str>>),
);
export type WidgetStringsPatch = z.infer<typeof WidgetStringsPatch>;

/** A distance: a number of px, or a CSS length (`1.5rem`). */
const Length = z.union([z.number(), str(MAX_THEME_VALUE)]);

/** The site's look, set once in the relay config; a page's own `theme` option wins key by key. */
export const SiteTheme = z.object({
  /** Brand colour, `#rgb` or `#rrggbb` (the relay checks its contrast with white text). */
  primary: z.optional(str(MAX_THEME_VALUE)),
  position: z.optional(z.enum(['left', 'right'])),
  /** From the corner: px or a CSS length, or the side (`x`) and the bottom (`y`) apart. */
  offset: z.optional(z.union([z.number(), str(MAX_THEME_VALUE), z.object({ x: z.optional(Length), y: z.optional(Length) })])),
  zIndex: z.optional(z.number().check(z.int())),
});
export type SiteTheme = z.infer<typeof SiteTheme>;

/**
 * A proactive message: shown in the bubble above the launcher once every condition of `when`
 * holds, evaluated in the browser (no socket, no relay state). See docs/configuration.md.
 */
export const Trigger = z.object({
  /** Names the trigger in the visitor's frequency caps. */
  id: Id,
  when: z.object({
    /** Seconds on the page (the current URL). */
    afterSec: z.optional(z.number().check(z.int(), z.gte(0))),
    /** The page's path and query (or, starting `http`, its whole URL), where `*` stands for any characters. */
    url: z.optional(str(LIMITS.maxUrlLength)),
    /** How far down the page the visitor scrolled, in percent. */
    scrollPct: z.optional(z.number().check(z.int(), z.gte(0), z.lte(100))),
    /** The pointer left the window through its top edge (desktop only). */
    exitIntent: z.optional(z.boolean()),
    /** Only a visitor back from an earlier visit (`true`), or only a first-time one (`false`). */
    returning: z.optional(z.boolean()),
    /** A page attribute (`data-parley-<name>`): present, equal to `eq`, or a number in `gte`–`lte`. */
    attr: z.optional(
      z.object({
        name: z.string().check(z.regex(PAGE_ATTR_RE)),
        gte: z.optional(z.number()),
        lte: z.optional(z.number()),
        eq: z.optional(z.string().check(z.maxLength(LIMITS.maxShortLength))),
      }),
    ),
  }),
  /** What the bubble shows: the text and the quick replies a tap sends. */
  message: Greeting,
  /** Shown at most once per this many days per visitor; 0 for every page view. Absent: 1. */
  everyDays: z.optional(z.number().check(z.int(), z.gte(0))),
});
export type Trigger = z.infer<typeof Trigger>;

/**
 * A site's public config: what a widget shows before it connects (and what `welcome` repeats
 * once it has). The relay serves it at `siteConfigPath(siteKey)` (site-config-guard.ts) as cacheable JSON, so a new
 * visitor sees the greeting and its quick replies at once without opening a socket.
 */
export const PublicSiteConfig = z.object({
  v: z.number().check(z.int()),
  site: z.object({ name: str(LIMITS.maxShortLength) }),
  /** Shown at once on open, with no backend round trip. */
  greeting: Greeting,
  /** Whether human agents are available now (revalidated on every page view, see docs/protocol.md). */
  online: z.boolean(),
  /** The locale the strings (and, when the site has one for it, the greeting) are in: the best match of `?locale=`. */
  locale: z.optional(str(35)),
  /** The writing direction of `locale`. */
  dir: z.optional(z.enum(['ltr', 'rtl'])),
  /** The widget's strings for `locale`, over the English it bundles; absent for English the site left as it is. */
  strings: z.optional(WidgetStringsPatch),
  /** Attachments, when the site takes them: the largest file in bytes and the MIME types (`image/*`) allowed. */
  uploads: z.optional(
    z.object({
      maxBytes: z.number().check(z.int(), z.gte(0)),
      types: z.array(str(LIMITS.maxShortLength)).check(z.maxLength(MAX_UPLOAD_TYPES)),
    }),
  ),
  /** The widget's look (page options win). */
  theme: z.optional(SiteTheme),
  /** Proactive messages, in order of precedence; the widget loads their code only when there are some. */
  triggers: z.optional(z.array(Trigger).check(z.maxLength(MAX_TRIGGERS))),
});
export type PublicSiteConfig = z.infer<typeof PublicSiteConfig>;
