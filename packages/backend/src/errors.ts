/**
 * The SDK's error registry. `WEBHOOK_*` codes are returned by `verifyWebhook`; their
 * `status` is the HTTP status a webhook endpoint should answer with (the relay retries
 * any non-2xx, so a delivery refused during a secret rotation is not lost). `RELAY_*`
 * codes are thrown by the REST client when the relay gave no usable answer; errors the
 * relay itself reports keep the relay's code (`UNAUTHORIZED`, `NOT_FOUND`, …). `STREAM_*`
 * codes are thrown by `streamMessage` about the text stream it was given.
 * docs/backend-api.md documents every code and a test keeps the two in sync.
 */
export const BACKEND_ERRORS = {
  WEBHOOK_MISSING_HEADERS: {
    status: 400,
    message: 'The webhook-id, webhook-timestamp or webhook-signature header is missing.',
  },
  WEBHOOK_BAD_TIMESTAMP: { status: 400, message: 'The webhook-timestamp header is not a unix time in seconds.' },
  WEBHOOK_STALE: { status: 401, message: 'The webhook timestamp is outside the tolerance window.' },
  WEBHOOK_BAD_SIGNATURE: { status: 401, message: 'No webhook signature matches the secret.' },
  WEBHOOK_BAD_BODY: { status: 400, message: 'The webhook body is not a valid Parley webhook event.' },
  RELAY_UNREACHABLE: { status: 0, message: 'The relay could not be reached.' },
  RELAY_TIMEOUT: { status: 0, message: 'The relay did not answer in time.' },
  RELAY_BAD_RESPONSE: { status: 0, message: 'The relay answered with a body that does not match the protocol.' },
  RELAY_CLOSED: { status: 0, message: 'The relay connection was closed before the relay answered.' },
  HANDLER_FAILED: { status: 0, message: 'onEvent threw; the event was not acked and the relay will deliver it again.' },
  STREAM_EMPTY: { status: 0, message: 'The text stream ended without any text; the answer was aborted.' },
  STREAM_TOO_LONG: { status: 0, message: 'The text stream went past the longest message the relay takes (LIMITS.maxTextLength); the answer was aborted.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type BackendErrorCode = keyof typeof BACKEND_ERRORS;
export type WebhookErrorCode = Extract<BackendErrorCode, `WEBHOOK_${string}`>;

/** Every code of the SDK's registry. */
export const BACKEND_ERROR_CODES = Object.keys(BACKEND_ERRORS) as BackendErrorCode[];

/**
 * A failed REST call. `code` is the relay's error code (`UNAUTHORIZED`, `NOT_FOUND`,
 * `ID_CONFLICT`, …) or one of the SDK's `RELAY_*` codes; `status` is the relay's HTTP
 * status, or 0 when no answer arrived.
 */
export class RelayError extends Error {
  override readonly name = 'RelayError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Thrown by `verifyWebhookOrThrow`; `status` is what the endpoint should answer with. */
export class WebhookError extends Error {
  override readonly name = 'WebhookError';
  readonly status: number;
  constructor(
    readonly code: WebhookErrorCode,
    message: string = BACKEND_ERRORS[code].message,
  ) {
    super(message);
    this.status = BACKEND_ERRORS[code].status;
  }
}
