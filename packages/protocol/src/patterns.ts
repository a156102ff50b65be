// Patterns shared by the zod schemas and the browser guard, so the two cannot drift.
// This module imports nothing: the browser bundle may load it without zod.

/** An id supplied by a client or backend: `A-Za-z0-9_-` (length is checked separately). */
export const ID_RE = /^[\w-]+$/;

/** An absolute http(s) URL with no whitespace. */
export const HTTP_URL_RE = /^https?:\/\/[^\s]+$/i;

/** An identity signature: hex(HMAC-SHA256), 64 lower-case hex digits (the schema takes either case so a wrong case is refused as IDENTITY_INVALID, not as a malformed frame). */
export const HEX_SHA256_RE = /^[0-9a-f]{64}$/;

/** An email address, loosely: something@something.tld. */
export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
