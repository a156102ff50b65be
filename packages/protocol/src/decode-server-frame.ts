import { badFrame, readFrame, type DecodeResult } from './frame-text.js';
import type { ServerFrame } from './frames.js';
import { parseServerFrame } from './server-guard.js';

/**
 * Decode a relay → widget frame. Never throws. Checks with the zod-free guard, so a
 * browser bundle that imports this does not include zod.
 */
export function decodeServerFrame(raw: unknown, maxBytes: number = Infinity): DecodeResult<ServerFrame> {
  const value = readFrame(raw, maxBytes);
  if (!value.ok) return value;
  const frame = parseServerFrame(value.frame);
  return frame ? { ok: true, frame } : badFrame();
}
