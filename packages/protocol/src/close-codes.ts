import type { ErrorCode } from './errors.js';

/**
 * WebSocket close codes. The range carries the retry policy, so a client reads the
 * range, not a list: 4000–4099 means "reconnect with backoff", 4400–4499 means
 * "do not reconnect" (the same hello would be refused again).
 */
export const CLOSE = {
  /** The relay is shutting down or restarting. Reconnect. */
  GOING_AWAY: 4000,
  /** No frame (not even a ping) arrived within the idle timeout. Reconnect. */
  IDLE_TIMEOUT: 4001,
  /** `hello` did not arrive in time after the socket opened. Reconnect. */
  HELLO_TIMEOUT: 4002,
  /** The socket could not drain its send buffer fast enough. Reconnect. */
  SLOW_CONSUMER: 4003,
  /** The connection kept sending after it was told it was rate limited. Reconnect later. */
  RATE_LIMITED: 4004,
  /** Too many connections from one address. Reconnect later. */
  TOO_MANY_CONNECTIONS: 4005,
  /** A frame was over the size cap. Reconnect. */
  FRAME_TOO_LARGE: 4006,
  /** The connection sent too many invalid frames. Reconnect. */
  PROTOCOL_ERROR: 4007,

  /** The site key is unknown. Do not reconnect. */
  BAD_SITE_KEY: 4400,
  /** The page's Origin is not on the site's allow-list. Do not reconnect. */
  ORIGIN_REFUSED: 4401,
  /** The visitor token is forged, expired or belongs to another site. Do not reconnect. */
  TOKEN_INVALID: 4402,
  /** The identity signature is wrong. Do not reconnect. */
  IDENTITY_INVALID: 4403,
  /** The client speaks a protocol version this relay does not. Do not reconnect. */
  UNSUPPORTED_VERSION: 4404,
  /** The first frame was not a valid `hello`. Do not reconnect. */
  BAD_HELLO: 4405,
} as const;

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** True when a client should reconnect after a close with this code. */
export function shouldReconnect(code: number): boolean {
  return !(code >= 4400 && code <= 4499);
}

type CloseName = keyof typeof CLOSE;

/**
 * The close codes whose name is not the error code they stand for. Every other close code stands
 * for the error code of its own name (the compiler rejects a close code whose name is no error code
 * and is not listed here), so `CLOSE` and this list are the whole table; docs/protocol.md prints it.
 *
 * Read one way it is `errorOf`: what a client reports when the relay closes with a code. Read the
 * other way it is `CLOSE_OF`: the close code the relay uses when a connection fails with an error.
 * The relay picks a few closes by context instead, whatever the error code:
 * - a bad first frame (BAD_JSON, BAD_FRAME, HELLO_REQUIRED, a binary frame) closes with BAD_HELLO,
 *   which stands for BAD_FRAME (the usual cause: a malformed `hello`); TOO_LARGE keeps FRAME_TOO_LARGE;
 * - invalid frames after `hello` that pile up close with PROTOCOL_ERROR, which stands for no error
 *   code of its own: the `error` frame before the close names the last one;
 * - INTERNAL closes with GOING_AWAY, like NOT_READY, so the client retries.
 */
const RENAMED = {
  GOING_AWAY: 'NOT_READY',
  FRAME_TOO_LARGE: 'TOO_LARGE',
  PROTOCOL_ERROR: null,
  BAD_HELLO: 'BAD_FRAME',
} as const satisfies { [K in CloseName as K extends ErrorCode ? never : K]: ErrorCode | null };

/** The error code the close code named `K` stands for (null for none). */
type ErrorOfName<K extends CloseName> = K extends keyof typeof RENAMED ? (typeof RENAMED)[K] : K;

/** An error code that has a close code of its own. */
export type ClosingErrorCode = NonNullable<ErrorOfName<CloseName>>;

/** The error code a close code stands for: null for PROTOCOL_ERROR, undefined for a code outside `CLOSE`. */
export function errorOf(closeCode: number): ErrorCode | null | undefined {
  const name = (Object.keys(CLOSE) as CloseName[]).find((k) => CLOSE[k] === closeCode);
  return name && (name in RENAMED ? (RENAMED as Record<string, ErrorCode | null>)[name] : (name as ErrorCode));
}

function closeOf(): Partial<Record<ErrorCode, CloseCode>> {
  const out: Partial<Record<ErrorCode, CloseCode>> = {};
  for (const code of Object.values(CLOSE)) {
    const error = errorOf(code);
    if (error) out[error] = code;
  }
  return out;
}

/** The close code a connection that fails with an error code closes with: the inverse of `errorOf`. */
export const CLOSE_OF = /* @__PURE__ */ closeOf() as { readonly [K in CloseName as NonNullable<ErrorOfName<K>>]: (typeof CLOSE)[K] };
