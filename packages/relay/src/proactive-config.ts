// The site config's `theme` and `triggers` (see docs/configuration.md): both reach the widget in
// the public site config. config.ts puts them in `SiteConfig`.
import { z } from 'zod';
import { ID_RE, LIMITS, MAX_THEME_VALUE, MAX_TRIGGERS, PAGE_ATTR_RE } from '@parley/protocol';

const HEX_COLOUR = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;

/** Contrast ratio of white text on a `#rgb` or `#rrggbb` colour (1–21), as WCAG 2 computes it. */
function contrastWithWhite(hex: string): number {
  const h = hex.length === 4 ? [...hex.slice(1)].map((c) => c + c).join('') : hex.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(h.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05);
}

const LENGTH_HINT = 'must be a number of px or a CSS length like 24px, 1.5rem or 5vh';
/** A distance from the corner: px, or a CSS length the widget sets as it is. */
const length = z.union([z.number().min(0).max(10_000), z.string().max(MAX_THEME_VALUE).regex(/^\d+(\.\d+)?(px|r?em|vh|vw|vmin|vmax|%)$/, LENGTH_HINT)], {
  error: LENGTH_HINT,
});

/** The widget's look for every page of the site; a page's own `theme` option wins key by key. */
export const siteTheme = z
  .object({
    /** Brand colour of the launcher, header and the visitor's bubbles, under white text. */
    primary: z
      .string()
      .regex(HEX_COLOUR, 'must be a hex colour like #1d4ed8')
      .refine((c) => contrastWithWhite(c) >= 4.5, 'gives white text less than 4.5:1 contrast (WCAG AA): pick a darker colour')
      .optional(),
    /** Which bottom corner. */
    position: z.enum(['left', 'right']).optional(),
    /** Distance from the corner, or `{ x, y }` for the side and the bottom apart. */
    offset: z.union([length, z.object({ x: length.optional(), y: length.optional() }).strict()], { error: `${LENGTH_HINT}, or { "x": …, "y": … }` }).optional(),
    /** Stacking order. */
    zIndex: z.number().int().min(0).max(2147483647).optional(),
  })
  .strict();

/**
 * A site's proactive messages: each shows in the bubble above the launcher once every condition
 * of its `when` holds, evaluated in the visitor's browser. `message` is the schema of a greeting
 * (text and quick replies), `localeTag` that of a language tag; both come from config.ts.
 */
export function siteTriggers<M extends z.ZodType, T extends z.ZodType<string>>(message: M, localeTag: T) {
  const when = z
    .object({
      /** Seconds on the page. */
      afterSec: z.number().int().min(0).max(86_400).optional(),
      /** A pattern of the page's path and query (or, starting with http, of its whole URL); `*` stands for any characters. */
      url: z.string().min(1).max(LIMITS.maxUrlLength).optional(),
      /** How far down the page, in percent. */
      scrollPct: z.number().int().min(1).max(100).optional(),
      /** The pointer leaves the window through its top edge (desktop). */
      exitIntent: z.boolean().optional(),
      /** `true`: only a visitor back from an earlier visit; `false`: only a first-time one. */
      returning: z.boolean().optional(),
      /** A page attribute, `data-parley-<name>` on an element of the page. */
      attr: z
        .object({
          name: z.string().regex(PAGE_ATTR_RE, 'must be lower-case letters, digits and -, starting with a letter (data-parley-<name>)'),
          gte: z.number().optional(),
          lte: z.number().optional(),
          eq: z.string().max(LIMITS.maxShortLength).optional(),
        })
        .strict()
        .optional(),
    })
    .strict();
  const trigger = z
    .object({
      /** Names the trigger in the visitor's frequency cap. */
      id: z.string().min(1).max(LIMITS.maxIdLength).regex(ID_RE, 'letters, digits, _ and - only'),
      when: when.default({}),
      message,
      /** The message in other languages, by tag (matched as the greeting is). */
      locales: z
        .record(z.string(), message)
        .superRefine((locales, ctx) => {
          for (const tag of Object.keys(locales)) {
            const bad = localeTag.safeParse(tag).error;
            if (bad) ctx.addIssue({ code: 'custom', path: [tag], message: bad.issues[0]!.message });
          }
        })
        .optional(),
      /** At most once per this many days per visitor; 0: on every page view. */
      everyDays: z.number().int().min(0).max(3650).default(1),
    })
    .strict();
  return z
    .array(trigger)
    .max(MAX_TRIGGERS)
    .superRefine((triggers, ctx) => {
      const seen = new Set<string>();
      triggers.forEach((t, i) => {
        if (seen.has(t.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: 'duplicate trigger id' });
        seen.add(t.id);
      });
    });
}
