import { WebhookBatch, WebhookEvent, check, verifyWebhookSignature, type WebhookHeaders, type WebhookVerifyFailure } from '@parley/protocol';
import { BACKEND_ERRORS, WebhookError, type WebhookErrorCode } from './errors.js';

/** Request headers as Node (`IncomingHttpHeaders`) or the Fetch API (`Headers`) gives them. */
export type HeadersLike = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

/** The raw request body, exactly as received (not re-serialised JSON). */
export type RawBody = string | Uint8Array;

export interface VerifyWebhookOptions {
  /** Largest accepted distance between the webhook timestamp and now, in seconds. Default 300. */
  toleranceSec?: number;
  /** The current time in milliseconds, for tests. Default `Date.now()`. */
  now?: number;
}

export type VerifyWebhookResult =
  | { ok: true; event: WebhookEvent }
  | { ok: false; code: WebhookErrorCode; message: string; status: number };

/**
 * A verified delivery of one event or of a batch (a site with `webhookBatch` above 1): its events
 * in the order they were sent, and the batch's id when it was one.
 */
export type VerifyWebhooksResult =
  | { ok: true; events: WebhookEvent[]; batchId?: string }
  | { ok: false; code: WebhookErrorCode; message: string; status: number };

const HEADER_NAMES = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

const FAILURES: Record<WebhookVerifyFailure, WebhookErrorCode> = {
  MISSING_HEADERS: 'WEBHOOK_MISSING_HEADERS',
  BAD_TIMESTAMP: 'WEBHOOK_BAD_TIMESTAMP',
  STALE_TIMESTAMP: 'WEBHOOK_STALE',
  BAD_SIGNATURE: 'WEBHOOK_BAD_SIGNATURE',
};

const utf8 = new TextDecoder();

function readHeaders(headers: HeadersLike): Partial<WebhookHeaders> {
  const out: Partial<WebhookHeaders> = {};
  if (typeof headers.get === 'function') {
    const get = headers.get.bind(headers) as (name: string) => string | null;
    for (const name of HEADER_NAMES) {
      const value = get(name);
      if (value) out[name] = value;
    }
    return out;
  }
  // Plain objects: Node lower-cases names, hand-built objects may not.
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    const name = key.toLowerCase() as (typeof HEADER_NAMES)[number];
    if (!HEADER_NAMES.includes(name) || value === undefined) continue;
    // Repeated signature headers are joined like the space-separated list they stand for.
    const joined = Array.isArray(value) ? value.join(name === 'webhook-signature' ? ' ' : ',') : value;
    if (joined) out[name] = joined;
  }
  return out;
}

type Failure = { ok: false; code: WebhookErrorCode; message: string; status: number };

function fail(code: WebhookErrorCode, message: string = BACKEND_ERRORS[code].message): Failure {
  return { ok: false, code, message, status: BACKEND_ERRORS[code].status };
}

/** Check the signature and timestamp, then parse the body as JSON. */
async function verifiedJson(secret: string, headers: HeadersLike, rawBody: RawBody, options: VerifyWebhookOptions, caller: string): Promise<{ ok: true; value: unknown } | Failure> {
  if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array)) {
    throw new TypeError(`${caller} needs the raw request body as a string or bytes, not parsed JSON.`);
  }
  const body = typeof rawBody === 'string' ? rawBody : utf8.decode(rawBody);
  const verified = await verifyWebhookSignature(secret, readHeaders(headers), body, options);
  if (!verified.ok) return fail(FAILURES[verified.reason]);
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    return fail('WEBHOOK_BAD_BODY', 'The webhook body is not valid JSON.');
  }
}

const isBatch = (value: unknown): boolean => typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'batch';

/** A verified body as one `WebhookEvent`, or WEBHOOK_BAD_BODY naming what is wrong. */
function eventOf(value: unknown): { ok: true; event: WebhookEvent } | Failure {
  const parsed = check(WebhookEvent, value);
  if (!parsed.ok) return fail('WEBHOOK_BAD_BODY', `The webhook body is not a valid Parley webhook event (${parsed.message}).`);
  return { ok: true, event: parsed.value };
}

/**
 * Verify a webhook delivery (Standard Webhooks signature, timestamp tolerance) and parse
 * its body as a `WebhookEvent`. Pass the raw body: re-serialised JSON does not verify.
 * Never throws for bad input; returns `{ok: false, code, message, status}`. A batch (a site with
 * `webhookBatch` above 1) is refused with `WEBHOOK_BAD_BODY`: take those with `verifyWebhooks`.
 */
export async function verifyWebhook(
  secret: string,
  headers: HeadersLike,
  rawBody: RawBody,
  options: VerifyWebhookOptions = {},
): Promise<VerifyWebhookResult> {
  const json = await verifiedJson(secret, headers, rawBody, options, 'verifyWebhook');
  if (!json.ok) return json;
  if (isBatch(json.value)) return fail('WEBHOOK_BAD_BODY', 'The webhook body is a batch of events (the site sets webhookBatch): verify it with verifyWebhooks.');
  return eventOf(json.value);
}

/** Like `verifyWebhook`, but returns the event or throws a `WebhookError`. */
export async function verifyWebhookOrThrow(
  secret: string,
  headers: HeadersLike,
  rawBody: RawBody,
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  const result = await verifyWebhook(secret, headers, rawBody, options);
  if (!result.ok) throw new WebhookError(result.code, result.message);
  return result.event;
}

/**
 * Verify a delivery that may be one event or a batch of them (a site with `webhookBatch` above
 * 1), like `verifyWebhook`, and return its events in order. Answer a batch with one response: a
 * 2xx settles every event in it, and inline replies go under each event's id,
 * `{replies: {[eventId]: {messages}}}`. Never throws for bad input.
 */
export async function verifyWebhooks(
  secret: string,
  headers: HeadersLike,
  rawBody: RawBody,
  options: VerifyWebhookOptions = {},
): Promise<VerifyWebhooksResult> {
  const json = await verifiedJson(secret, headers, rawBody, options, 'verifyWebhooks');
  if (!json.ok) return json;
  if (isBatch(json.value)) {
    const parsed = check(WebhookBatch, json.value);
    if (!parsed.ok) return fail('WEBHOOK_BAD_BODY', `The webhook body is not a valid Parley webhook batch (${parsed.message}).`);
    return { ok: true, events: parsed.value.events, batchId: parsed.value.id };
  }
  const single = eventOf(json.value);
  return single.ok ? { ok: true, events: [single.event] } : single;
}
