import type { z } from 'zod/mini';
import { badFrame, readFrame, type DecodeResult } from './frame-text.js';
import { ClientFrame, type SendFrame, type ServerFrame } from './frames.js';
import { LIMITS } from './limits.js';
import { ID_RE } from './patterns.js';

export type { DecodeErrorCode, DecodeResult, RawFrame } from './frame-text.js';

/** Decode a widget → relay frame. Never throws. */
export function decode(raw: unknown, maxBytes: number = LIMITS.maxFrameBytes): DecodeResult<ClientFrame> {
  const value = readFrame(raw, maxBytes);
  if (!value.ok) return value;
  if (isPlainTextSend(value.frame)) return { ok: true, frame: value.frame };
  const parsed = ClientFrame.safeParse(value.frame);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const issue = parsed.error.issues[0];
  return badFrame(issue && issue.path.length ? ` at ${issue.path.join('.')}` : '');
}

/**
 * The frame a relay reads most, a visitor's text (`{t: "send", id, body: {type: "text", text}}`
 * and nothing else), checked without zod: the checks SendFrame makes of it, on the parsed value as
 * it is (zod would copy it, with the same keys). Anything else goes to the schema. A property test
 * keeps the two equal.
 */
export function isPlainTextSend(v: unknown): v is SendFrame {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const f = v as Record<string, unknown>;
  const { id, body } = f;
  if (f.t !== 'send' || typeof id !== 'string' || id.length === 0 || id.length > LIMITS.maxIdLength || !ID_RE.test(id)) return false;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  const { text } = b;
  if (b.type !== 'text' || typeof text !== 'string' || text.length === 0 || text.length > LIMITS.maxTextLength) return false;
  return exactly(f, 3) && exactly(b, 2);
}

/** Whether an object has exactly `n` own enumerable keys (the ones just checked). */
function exactly(o: object, n: number): boolean {
  let keys = 0;
  for (const key in o) if (Object.hasOwn(o, key)) keys++;
  return keys === n && Object.getPrototypeOf(o) === Object.prototype;
}

/** Validate an already-parsed value against a schema, as a result. Never throws. */
export function check<T>(schema: z.ZodMiniType<T>, value: unknown): { ok: true; value: T } | { ok: false; message: string } {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length ? `${issue.path.join('.')}: ` : '';
  return { ok: false, message: `${where}${issue?.message ?? 'invalid'}` };
}

/** Serialise a frame for the wire. */
export function encode(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame);
}
