// Raw socket data → JSON value, with the size cap. Shared by `decode` (zod, in the relay)
// and `decodeServerFrame` (guard, in the browser); imports nothing, so neither pulls zod.

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

/** The JSON value a frame carries, refused when it is over `maxBytes`, not UTF-8 or not JSON. */
export function readFrame(raw: unknown, maxBytes: number): DecodeResult<unknown> {
  const text = toText(raw, maxBytes);
  if (!text.ok) return text;
  try {
    return { ok: true, frame: JSON.parse(text.frame) };
  } catch {
    return { ok: false, code: 'BAD_JSON', message: 'The frame is not valid JSON.' };
  }
}

/** The refusal for a value that does not match the protocol; `where` names the place, when known. */
export function badFrame(where = ''): DecodeResult<never> {
  return { ok: false, code: 'BAD_FRAME', message: `The frame does not match the protocol${where}.` };
}
