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
