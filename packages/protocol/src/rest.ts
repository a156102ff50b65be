import { z } from 'zod/mini';
import { ConversationEvent } from './events.js';
import { StoredEvent } from './frames.js';
import { Button, Message, Source } from './messages.js';
import { LIMITS } from './limits.js';
import { Id, Seq, Timestamp, str, text } from './schemas.js';
import { OutgoingMessage, VisitorContext, WebhookEvent, WebhookVisitor } from './webhooks.js';

// Every request body, query and answer of the backend REST API under `/v1`.
// The relay builds its answers typed by these; the backend SDK checks them with `check`.

/** The error body of every REST failure. */
export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** `POST /v1/conversations/:id/messages` */
export const PostMessageRequest = z.extend(OutgoingMessage, { id: Id });
export type PostMessageRequest = z.infer<typeof PostMessageRequest>;
export const PostMessageResponse = z.object({ message: Message, duplicate: z.boolean() });
export type PostMessageResponse = z.infer<typeof PostMessageResponse>;

/** `POST /v1/conversations/:id/events` */
export const PostEventRequest = z.object({
  /** Idempotency key for stored events. */
  id: z.optional(Id),
  event: ConversationEvent,
});
export type PostEventRequest = z.infer<typeof PostEventRequest>;
export const PostEventResponse = z.object({ seq: z.optional(Seq), duplicate: z.boolean() });
export type PostEventResponse = z.infer<typeof PostEventResponse>;

// ---- streamed answers: `POST /v1/conversations/:id/streams/:messageId` ----
// A bot writes an answer in steps: `start`, any number of `delta`s, then `finish` (or `abort`).
// Widgets see the text as it grows (`draft` frames); only the finished answer enters the log.

/** Open the answer `messageId`. Idempotent: starting it again answers its current state. */
export const StreamStart = z.object({
  op: z.literal('start'),
  /** Defaults to `{role: 'bot', ai: true}`. */
  from: OutgoingMessage.shape.from,
});
/**
 * Append `text` at character `offset` (UTF-16 code units) of the answer. Idempotent on the
 * offset: text the relay already holds is skipped, only what lies beyond it is appended. An
 * offset past the end is refused with `STREAM_GAP` (the answer carries the length held).
 */
export const StreamDelta = z.object({
  op: z.literal('delta'),
  offset: z.number().check(z.int(), z.gte(0), z.lte(LIMITS.maxTextLength)),
  text: str(LIMITS.maxTextLength),
});
/**
 * Finish the answer: it enters the log as one message with a seq. `text` is the final text
 * (defaults to what the deltas wrote); with `quickReplies` it is a quick-replies message.
 */
export const StreamFinish = z.object({
  op: z.literal('finish'),
  text: z.optional(str(LIMITS.maxTextLength)),
  sources: z.optional(z.array(Source).check(z.maxLength(LIMITS.maxSources))),
  quickReplies: z.optional(z.array(Button).check(z.minLength(1), z.maxLength(LIMITS.maxQuickReplies))),
});
/** Give up on the answer: the text so far enters the log marked `incomplete`. */
export const StreamAbort = z.object({
  op: z.literal('abort'),
  reason: z.optional(text(LIMITS.maxShortLength)),
});
/** One step of a streamed answer. */
export const StreamRequest = z.discriminatedUnion('op', [StreamStart, StreamDelta, StreamFinish, StreamAbort]);
export type StreamRequest = z.infer<typeof StreamRequest>;
export type StreamStart = z.infer<typeof StreamStart>;
export type StreamDelta = z.infer<typeof StreamDelta>;
export type StreamFinish = z.infer<typeof StreamFinish>;
export type StreamAbort = z.infer<typeof StreamAbort>;

/** The answer to every stream step. */
export const StreamResponse = z.object({
  /** The answer's message id. */
  id: Id,
  /** Characters the relay holds for the answer. */
  offset: z.number(),
  /** True once the answer is finished or aborted (its message is in the log). */
  done: z.boolean(),
  /** The logged message, once `done`. */
  message: z.optional(Message),
  /** True when the step changed nothing: a repeated start, delta, finish or abort. */
  duplicate: z.boolean(),
});
export type StreamResponse = z.infer<typeof StreamResponse>;

/** `GET /v1/conversations/:id/messages?after=SEQ&limit=N` */
export const HistoryQuery = z.object({
  after: z.optional(z.string().check(z.regex(/^\d{1,15}$/))),
  limit: z.optional(z.string().check(z.regex(/^\d{1,4}$/))),
});
export type HistoryQuery = z.infer<typeof HistoryQuery>;

/** One entry of a history page: a message or a stored event, told apart by `kind`. */
export const HistoryEntry = z.discriminatedUnion('kind', [
  z.extend(Message, { kind: z.literal('msg') }),
  z.extend(StoredEvent, { kind: z.literal('event') }),
]);

/** `GET /v1/conversations/:id/messages` answer. */
export const HistoryResponse = z.object({
  entries: z.array(HistoryEntry),
  /** Highest sequence number in the log. */
  lastSeq: Seq,
  /** True when more entries follow the last one returned. */
  hasMore: z.boolean(),
});
export type HistoryResponse = z.infer<typeof HistoryResponse>;

/** Page size of `GET /v1/conversations`: the default, and the most one page holds (a larger `limit` is lowered to it). */
export const CONVERSATION_PAGE = { defaultLimit: 1000, maxLimit: 1000 } as const;

/** `GET /v1/conversations?limit=N&cursor=C` */
export const ConversationListQuery = z.object({
  limit: z.optional(z.string().check(z.regex(/^\d{1,4}$/))),
  /** The `nextCursor` of the previous page: opaque base64url; the relay answers `BAD_CURSOR` to one it did not give out. */
  cursor: z.optional(z.string()),
});
export type ConversationListQuery = z.infer<typeof ConversationListQuery>;

/** One conversation of `GET /v1/conversations`. */
export const ConversationListItem = z.object({
  id: Id,
  visitorId: Id,
  createdAt: Timestamp,
  /** Highest seq in the log (0 while empty). */
  lastSeq: Seq,
  closed: z.boolean(),
  /** True once the visitor's first action sent `conversation.started`. */
  started: z.boolean(),
  /** Highest seq the visitor reported as read. */
  readSeq: Seq,
  context: VisitorContext,
  identity: z.optional(WebhookVisitor.shape.identity),
});
export type ConversationListItem = z.infer<typeof ConversationListItem>;

/** `GET /v1/conversations` answer: a page, newest first. */
export const ConversationListResponse = z.object({
  items: z.array(ConversationListItem),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: z.nullable(z.string()),
});
export type ConversationListResponse = z.infer<typeof ConversationListResponse>;

/**
 * What a client reads of a `GET /v1/conversations` answer: the summary fields of each item, and
 * `nextCursor` optional because a relay from before paging answers `{items}` only (its one page is the last).
 */
export const ConversationListReading = z.object({
  items: z.array(
    z.pick(ConversationListItem, { id: true, visitorId: true, createdAt: true, lastSeq: true, closed: true, context: true, identity: true }),
  ),
  nextCursor: z.optional(z.nullable(z.string())),
});
export type ConversationListReading = z.infer<typeof ConversationListReading>;

/** `POST /v1/availability` body, and its answer. */
export const AvailabilityRequest = z.object({ online: z.boolean() });
export type AvailabilityRequest = z.infer<typeof AvailabilityRequest>;
export const AvailabilityResponse = z.object({ online: z.boolean() });
export type AvailabilityResponse = z.infer<typeof AvailabilityResponse>;

/** `POST /v1/visitors/:visitorId/revoke` answer: tokens issued until `revokedAt` are refused. */
export const RevokeVisitorResponse = z.object({ visitorId: Id, revokedAt: Timestamp });
export type RevokeVisitorResponse = z.infer<typeof RevokeVisitorResponse>;

/** A webhook delivery that ran out of retries. */
export const DeadLetter = z.object({
  event: WebhookEvent,
  attempts: z.number(),
  firstAttemptAt: Timestamp,
  lastAttemptAt: Timestamp,
  lastError: z.object({ code: z.string(), message: z.string(), status: z.optional(z.number()) }),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

/** `GET /v1/dead-letters` answer. */
export const DeadLettersResponse = z.object({ items: z.array(DeadLetter) });
export type DeadLettersResponse = z.infer<typeof DeadLettersResponse>;
