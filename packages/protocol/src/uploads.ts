// Attachments: the limits and the type matching shared by the schemas, the browser guard, the
// relay and the widget. This module imports nothing: the browser bundle may load it without zod.

/** Most MIME types or patterns in an upload allowance. */
export const MAX_UPLOAD_TYPES = 20;

/** Most form fields, or headers, of an upload target. */
export const MAX_UPLOAD_PAIRS = 30;

/** Longest value of an upload target's form field or header (a presigned POST policy is a few KB of base64). */
export const MAX_UPLOAD_VALUE = 8192;

/** A MIME type (`image/png`, `application/pdf`) or a pattern of one (`image/*`). */
export const MIME_PATTERN_RE = /^[a-z0-9][\w.+-]*\/(\*|[a-z0-9][\w.+-]*)$/i;

/**
 * Whether `mime` fits one of `patterns`: the same type (case and parameters ignored:
 * `Image/PNG; x=1` is `image/png`), or `type/*` for any subtype of `type`.
 */
export function mimeAllowed(mime: string, patterns: readonly string[]): boolean {
  const m = mime.split(';')[0]!.trim().toLowerCase();
  return patterns.some((p) => {
    const q = p.toLowerCase();
    return q.endsWith('/*') ? m.startsWith(q.slice(0, -1)) && m.length > q.length - 1 : m === q;
  });
}
