import { z } from 'zod/mini';
import { LIMITS } from './limits.js';
import { HTTP_URL_RE, ID_RE } from './patterns.js';


// Building blocks shared by every schema. The browser checks relay frames with
// server-guard.ts instead, which repeats these rules without zod.

/** A non-empty string of at most `max` characters. */
export const str = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));

/** A possibly empty string of at most `max` characters. */
export const text = (max: number) => z.string().check(z.maxLength(max));

/** An id supplied by a client or backend: 1–64 of `A-Za-z0-9_-`. */
export const Id = z.string().check(z.minLength(1), z.maxLength(LIMITS.maxIdLength), z.regex(ID_RE));

/** An absolute http(s) URL. Every link and image the widget shows passes through this. */
export const HttpUrl = z.string().check(z.maxLength(LIMITS.maxUrlLength), z.regex(HTTP_URL_RE));

/** A sequence number in a conversation log: 1, 2, 3… (0 means "nothing yet"). */
export const Seq = z.number().check(z.int(), z.gte(0), z.lte(Number.MAX_SAFE_INTEGER));

/** Milliseconds since the epoch. */
export const Timestamp = z.number().check(z.int(), z.gte(0));

/** A small free-form map of attributes (CRM fields, cart value, …): at most `LIMITS.maxAttrs` keys. */
export const Attrs = z
  .record(z.string().check(z.maxLength(64)), z.union([text(LIMITS.maxShortLength * 5), z.number(), z.boolean(), z.null()]))
  .check(z.refine((attrs) => Object.keys(attrs).length <= LIMITS.maxAttrs, { message: `At most ${LIMITS.maxAttrs} attributes.` }));
