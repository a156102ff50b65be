import type { z } from 'zod/mini';
import { badFrame, readFrame, type DecodeResult } from './frame-text.js';
import { ClientFrame, type ServerFrame } from './frames.js';
import { LIMITS } from './limits.js';

export type { DecodeErrorCode, DecodeResult, RawFrame } from './frame-text.js';

/** Decode a widget → relay frame. Never throws. */
export function decode(raw: unknown, maxBytes: number = LIMITS.maxFrameBytes): DecodeResult<ClientFrame> {
  const value = readFrame(raw, maxBytes);
  if (!value.ok) return value;
  const parsed = ClientFrame.safeParse(value.frame);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const issue = parsed.error.issues[0];
  return badFrame(issue && issue.path.length ? ` at ${issue.path.join('.')}` : '');
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
