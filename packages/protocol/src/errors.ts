/**
 * The error registry: every code that crosses the wire (error frames, REST error bodies,
 * webhook failures). Codes are stable and never reused. `status` is the HTTP status the
 * relay answers with when the code is a REST error. docs/errors.md documents each code
 * and a test keeps the two in sync.
 */
export const ERRORS = {
  BAD_JSON: { status: 400, message: 'The frame or body is not valid JSON.' },
  BAD_FRAME: { status: 400, message: 'The frame does not match the protocol schema.' },
  TOO_LARGE: { status: 413, message: 'The frame or body is over the size limit.' },
  UNSUPPORTED_VERSION: { status: 400, message: 'This protocol version is not supported.' },
  BAD_SITE_KEY: { status: 401, message: 'The site key is unknown.' },
  ORIGIN_REFUSED: { status: 403, message: "The page's origin is not allowed for this site." },
  TOKEN_INVALID: { status: 401, message: 'The visitor token is invalid.' },
  IDENTITY_INVALID: { status: 401, message: 'The identity signature does not match the user id.' },
  HELLO_REQUIRED: { status: 400, message: 'The first frame must be hello.' },
  HELLO_TIMEOUT: { status: 408, message: 'No hello arrived in time.' },
  RATE_LIMITED: { status: 429, message: 'Too many frames or requests; slow down.' },
  TOO_MANY_CONNECTIONS: { status: 429, message: 'Too many connections from this address.' },
  SLOW_CONSUMER: { status: 503, message: 'The connection could not keep up with its messages.' },
  IDLE_TIMEOUT: { status: 408, message: 'The connection was idle for too long.' },
  BODY_NOT_ALLOWED: { status: 400, message: 'This message type cannot be sent from here.' },
  CONVERSATION_CLOSED: { status: 409, message: 'The conversation is closed.' },
  UNAUTHORIZED: { status: 401, message: 'The API secret is missing or wrong.' },
  FORBIDDEN: { status: 403, message: 'This conversation belongs to another site.' },
  NOT_FOUND: { status: 404, message: 'No such conversation or resource.' },
  UPGRADE_REQUIRED: { status: 426, message: 'This endpoint is a WebSocket: connect with an Upgrade request.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time.' },
  ID_CONFLICT: { status: 409, message: 'This message id was already used with a different body.' },
  BAD_REQUEST: { status: 400, message: 'The request is not valid.' },
  BAD_CURSOR: { status: 400, message: 'The cursor is not one the relay gave out; list again from the newest page.' },
  STREAM_GAP: { status: 409, message: 'The delta starts past the end of the streamed answer; resend from the offset the relay holds.' },
  STREAM_ENDED: { status: 409, message: 'The streamed answer is already finished or aborted.' },
  STREAM_NOT_FOUND: { status: 404, message: 'No streamed answer with this id was started in this conversation.' },
  INTERNAL: { status: 500, message: 'The relay hit an unexpected error.' },
  NOT_READY: { status: 503, message: 'The relay is not ready to serve.' },
  CONNECTION_REFUSED: { status: 403, message: 'The relay refused the connection and asked not to reconnect.' },
  WEBHOOK_FAILED: { status: 502, message: 'The backend did not accept the webhook.' },
  WEBHOOK_TIMEOUT: { status: 504, message: 'The backend did not answer the webhook in time.' },
  WEBHOOK_BAD_REPLY: { status: 502, message: 'The backend answered the webhook with an invalid body.' },
  BACKEND_SOCKET_OFF: { status: 403, message: "The site's backend socket mode is off; it receives webhooks." },
  BACKEND_SOCKET_CLOSED: { status: 502, message: 'The backend socket closed before it acked the event.' },
  BACKEND_SOCKET_TIMEOUT: { status: 504, message: 'The backend socket did not ack the event in time.' },
  BACKEND_SOCKET_ABSENT: { status: 503, message: 'No backend socket is connected; the event waits for one.' },
  UPLOAD_REFUSED: { status: 403, message: "This site does not take attachments, or the file's address is not on one of its upload hosts." },
  UPLOAD_TOO_LARGE: { status: 413, message: 'The file is larger than this site allows.' },
  UPLOAD_TYPE: { status: 415, message: 'This site does not take files of this type.' },
  UPLOAD_UNAVAILABLE: { status: 503, message: 'No upload target could be had from the backend; try again later.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Every registered error code. */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** The `{code, message}` shape carried by error frames, REST errors and client `error` events. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

/** The registry entry for a code, as an `ErrorInfo`. */
export function errorInfo(code: ErrorCode, message: string = ERRORS[code].message): ErrorInfo {
  return { code, message };
}

/** True for a string that is a registered error code. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, value);
}
