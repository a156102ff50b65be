import type { z } from 'zod/mini';
import { ClientFrame, ServerFrame } from './frames.js';
import { LIMITS } from './limits.js';

/** Why a frame was refused. Each is also an error-registry code. */
export type DecodeErrorCode = 'BAD_JSON' | 'BAD_FRAME' | 'TOO_LARGE';

export type DecodeResult<T> =
  | { ok: true; frame: T }
  | { ok: false; code: DecodeErrorCode; message: string };

/** Raw input as sockets deliver it. */
export type RawFrame = string | ArrayBuffer | Uint8Array | readonly Uint8Array[];

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

function toText(raw: unknown, maxBytes: number): DecodeResult<string> {
  let bytes: Uint8Array;
  if (typeof raw === 'string') {
    // A UTF-16 code unit is at most 3 UTF-8 bytes; encode only when it could matter.
    if (raw.length * 3 > maxBytes && encoder.encode(raw).byteLength > maxBytes) return tooLarge(maxBytes);
    return { ok: true, frame: raw };
  }
  if (raw instanceof ArrayBuffer) bytes = new Uint8Array(raw);
  else if (raw instanceof Uint8Array) bytes = raw;
  else if (Array.isArray(raw) && raw.every((part) => part instanceof Uint8Array)) {
    const parts = raw as Uint8Array[];
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    if (total > maxBytes) return tooLarge(maxBytes);
    bytes = new Uint8Array(total);
    let offset = 0;
    for (const p of parts) {
      bytes.set(p, offset);
      offset += p.byteLength;
    }
  } else return { ok: false, code: 'BAD_FRAME', message: 'Frames must be text.' };
  if (bytes.byteLength > maxBytes) return tooLarge(maxBytes);
  try {
    return { ok: true, frame: utf8.decode(bytes) };
  } catch {
    return { ok: false, code: 'BAD_JSON', message: 'The frame is not valid UTF-8.' };
  }
}

function tooLarge(maxBytes: number): DecodeResult<never> {
  return { ok: false, code: 'TOO_LARGE', message: `Frames are limited to ${maxBytes} bytes.` };
}

function parseWith<T>(schema: z.ZodMiniType<T>, raw: unknown, maxBytes: number): DecodeResult<T> {
  const text = toText(raw, maxBytes);
  if (!text.ok) return text;
  let value: unknown;
  try {
    value = JSON.parse(text.frame);
  } catch {
    return { ok: false, code: 'BAD_JSON', message: 'The frame is not valid JSON.' };
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length ? ` at ${issue.path.join('.')}` : '';
    return { ok: false, code: 'BAD_FRAME', message: `The frame does not match the protocol${where}.` };
  }
  return { ok: true, frame: parsed.data };
}

/** Decode a widget → relay frame. Never throws. */
export function decode(raw: unknown, maxBytes: number = LIMITS.maxFrameBytes): DecodeResult<ClientFrame> {
  return parseWith(ClientFrame, raw, maxBytes);
}

/** Decode a relay → widget frame. Never throws. */
export function decodeServerFrame(raw: unknown, maxBytes: number = Infinity): DecodeResult<ServerFrame> {
  return parseWith(ServerFrame, raw, maxBytes);
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
