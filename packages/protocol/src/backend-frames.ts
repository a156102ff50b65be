import { z } from 'zod/mini';
import { ConversationEvent } from './events.js';
import { badFrame, readFrame, type DecodeResult } from './frame-text.js';
import { LIMITS } from './limits.js';
import { Id, Seq, Timestamp, str, text } from './schemas.js';
import { PostMessageRequest, StreamAbort, StreamDelta, StreamFinish, StreamStart } from './rest.js';
import { WebhookEvent, WebhookReply } from './webhooks.js';

// The backend socket at `/v1/backend`: a merchant backend holds it with the site's API secret,
// receives the site's webhook events over it, acks each one, and sends messages and events.

/** Largest frame either side of a backend socket accepts: the REST body limit. */
export const MAX_BACKEND_FRAME_BYTES = LIMITS.maxBodyBytes;

/** How a site's events reach its backend: `off` webhooks only, `fallback` a socket first, `only` sockets only. */
export const BackendSocketMode = z.enum(['off', 'fallback', 'only']);
export type BackendSocketMode = z.infer<typeof BackendSocketMode>;

// ---- backend → relay ----

/**
 * The event `id` was handled. `messages` is an inline reply, exactly like the body of a 2xx
 * webhook answer: appended at once, ids defaulting to `<event id>-<index>`.
 */
export const BackendAckFrame = z.extend(WebhookReply, { t: z.literal('ack'), id: str(LIMITS.maxIdLength) });

/** Append a message, as `POST /v1/conversations/:id/messages`; `id` is its idempotency key and names the answer. */
export const BackendSendFrame = z.extend(PostMessageRequest, { t: z.literal('send'), conversationId: Id });

/**
 * Push an event, as `POST /v1/conversations/:id/events`; `id` names the answer and is the
 * idempotency key of a stored event.
 */
export const BackendPostFrame = z.object({ t: z.literal('post'), id: Id, conversationId: Id, event: ConversationEvent });

/**
 * One step of a streamed answer, as `POST /v1/conversations/:id/streams/:messageId`; `id` is the
 * message id. `start`, `finish` and `abort` are answered with an `ack` (`seq` set once the answer is
 * in the log); a `delta` is answered only when refused. Steps of one answer are applied in order.
 */
const streamFrame = <S extends z.ZodMiniObject>(step: S) => z.extend(step, { t: z.literal('stream'), id: Id, conversationId: Id });
export const BackendStreamFrame = z.discriminatedUnion('op', [
  streamFrame(StreamStart),
  streamFrame(StreamDelta),
  streamFrame(StreamFinish),
  streamFrame(StreamAbort),
]);

/** Every frame a backend may send. */
export const BackendClientFrame = z.discriminatedUnion('t', [BackendAckFrame, BackendSendFrame, BackendPostFrame, BackendStreamFrame]);
export type BackendClientFrame = z.infer<typeof BackendClientFrame>;
export type BackendAckFrame = z.infer<typeof BackendAckFrame>;
export type BackendSendFrame = z.infer<typeof BackendSendFrame>;
export type BackendPostFrame = z.infer<typeof BackendPostFrame>;
export type BackendStreamFrame = z.infer<typeof BackendStreamFrame>;

// ---- relay → backend ----

/** First frame on an accepted socket. */
export const BackendReadyFrame = z.object({
  t: z.literal('ready'),
  v: z.number().check(z.int()),
  siteKey: str(LIMITS.maxShortLength),
  mode: BackendSocketMode,
});

/** One webhook event, delivered over the socket; answer with an `ack` carrying `event.id`. */
export const BackendEventFrame = z.object({ t: z.literal('event'), event: WebhookEvent });

/** The answer to a `send` or `post`: the entry's seq (absent for transient events) and whether it was a duplicate. */
export const BackendResultFrame = z.object({ t: z.literal('ack'), id: Id, seq: z.optional(Seq), duplicate: z.boolean() });

/** A refused frame: `id` names the `send` or `post` it answers, when it could be read. */
export const BackendErrorFrame = z.object({
  t: z.literal('error'),
  /** A code from the error registry (backends must tolerate codes they do not know). */
  code: str(64),
  message: text(LIMITS.maxShortLength * 2),
  id: z.optional(Id),
});

/**
 * The visitor started (`on`) or stopped typing in a conversation. Ephemeral: throttled per
 * conversation (at most one `on` per few seconds, and the `off` after it), never queued, never
 * acked; a frame lost with a dropped socket is not sent again.
 */
export const BackendTypingFrame = z.object({ t: z.literal('typing'), conversationId: Id, on: z.boolean(), ts: Timestamp });

/** The visitor has read the conversation up to `seq` (it only grows). Ephemeral, like `typing`. */
export const BackendReadFrame = z.object({ t: z.literal('read'), conversationId: Id, seq: Seq, ts: Timestamp });

/** Every frame the relay may send to a backend. */
export const BackendServerFrame = z.discriminatedUnion('t', [BackendReadyFrame, BackendEventFrame, BackendResultFrame, BackendErrorFrame, BackendTypingFrame, BackendReadFrame]);
export type BackendServerFrame = z.infer<typeof BackendServerFrame>;
export type BackendReadyFrame = z.infer<typeof BackendReadyFrame>;
export type BackendEventFrame = z.infer<typeof BackendEventFrame>;
export type BackendResultFrame = z.infer<typeof BackendResultFrame>;
export type BackendErrorFrame = z.infer<typeof BackendErrorFrame>;
export type BackendTypingFrame = z.infer<typeof BackendTypingFrame>;
export type BackendReadFrame = z.infer<typeof BackendReadFrame>;

/** Decode a backend → relay frame. Never throws. */
export function decodeBackendFrame(raw: unknown, maxBytes: number = MAX_BACKEND_FRAME_BYTES): DecodeResult<BackendClientFrame> {
  return decodeWith(BackendClientFrame, raw, maxBytes);
}

/** Decode a relay → backend frame (the backend SDK's edge). Never throws. */
export function decodeBackendServerFrame(raw: unknown, maxBytes = Infinity): DecodeResult<BackendServerFrame> {
  return decodeWith(BackendServerFrame, raw, maxBytes);
}

function decodeWith<T>(schema: z.ZodMiniType<T>, raw: unknown, maxBytes: number): DecodeResult<T> {
  const value = readFrame(raw, maxBytes);
  if (!value.ok) return value;
  const parsed = schema.safeParse(value.frame);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const issue = parsed.error.issues[0];
  return badFrame(issue && issue.path.length ? ` at ${issue.path.join('.')}` : '');
}

/** The id a refused frame carried, so its error frame can name the request. */
export function frameIdOf(raw: unknown): string | undefined {
  const value = readFrame(raw, MAX_BACKEND_FRAME_BYTES);
  if (!value.ok || typeof value.frame !== 'object' || value.frame === null) return undefined;
  const id = (value.frame as { id?: unknown }).id;
  return typeof id === 'string' && Id.safeParse(id).success ? id : undefined;
}
