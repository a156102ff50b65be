// Proactive messages and the site's theme: the limits shared by the schemas, the browser guard
// and the relay's config. This module imports nothing: the browser bundle may load it without zod.

/** Most triggers a site may have. */
export const MAX_TRIGGERS = 20;

/** Longest theme value given as text (a colour, a CSS length). */
export const MAX_THEME_VALUE = 50;

/**
 * The name of a page attribute a trigger reads: `cart-value` is read from the page's first
 * element with a `data-parley-cart-value` attribute.
 */
export const PAGE_ATTR_RE = /^[a-z][a-z0-9-]{0,63}$/;
