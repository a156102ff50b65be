import { z } from 'zod/mini';
import { ConversationEvent } from './events.js';
import { PageContext, ProductContext, type LogEntry } from './frames.js';
import { LIMITS } from './limits.js';
import { BackendBody, Message, Sender } from './messages.js';
import { Attrs, Id, Seq, Timestamp, str } from './schemas.js';

/** The visitor a webhook is about. */
export const WebhookVisitor = z.object({
  id: Id,
  identity: z.optional(
    z.object({
      userId: str(LIMITS.maxShortLength),
      name: z.optional(z.string()),
      email: z.optional(z.string()),
      attrs: z.optional(Attrs),
      /** True only when the relay checked the identity signature. */
      verified: z.boolean(),
    }),
  ),
});

/** The visitor's latest context: page, product viewed, attributes. */
export const VisitorContext = z.object({
  page: z.optional(PageContext),
  product: z.optional(ProductContext),
  attrs: z.optional(Attrs),
});
export type VisitorContext = z.infer<typeof VisitorContext>;

const envelope = <T extends string, D extends z.ZodMiniType>(type: T, data: D) =>
  z.object({
    /** Stable per event: the same on every retry, equal to the `webhook-id` header. */
    id: str(LIMITS.maxIdLength),
    type: z.literal(type),
    createdAt: Timestamp,
    siteKey: str(LIMITS.maxShortLength),
    conversationId: Id,
    visitor: WebhookVisitor,
    data,
  });

const withMessage = z.object({ message: Message });

/** Every event the relay POSTs to a site's `webhookUrl`. */
export const WebhookEvent = z.discriminatedUnion('type', [
  envelope('conversation.started', z.object({ context: VisitorContext })),
  envelope('message.created', withMessage),
  envelope('postback', withMessage),
  envelope('context.updated', z.object({ context: VisitorContext })),
  envelope('handoff.requested', withMessage),
  envelope('rating.submitted', withMessage),
]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;
export type WebhookEventType = WebhookEvent['type'];
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = [
  'conversation.started',
  'message.created',
  'postback',
  'context.updated',
  'handoff.requested',
  'rating.submitted',
];

/** A backend-authored message: from the REST API or inline in a webhook reply. */
export const OutgoingMessage = z.object({
  /** Idempotency key chosen by the backend. Optional only in inline webhook replies. */
  id: z.optional(Id),
  /** Defaults to `{role: 'bot'}`. */
  from: z.optional(z.extend(Sender, { role: z.enum(['bot', 'agent', 'system']) })),
  body: BackendBody,
});
export type OutgoingMessage = z.infer<typeof OutgoingMessage>;

/** The optional JSON body of a 2xx webhook answer: replies appended at once. */
export const WebhookReply = z.object({
  messages: z.optional(z.array(OutgoingMessage).check(z.maxLength(LIMITS.maxInlineReplies))),
});
export type WebhookReply = z.infer<typeof WebhookReply>;

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

/** The error body of every REST failure. */
export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** `GET /v1/conversations/:id/messages?after=SEQ&limit=N` */
export const HistoryQuery = z.object({
  after: z.optional(z.string().check(z.regex(/^\d{1,15}$/))),
  limit: z.optional(z.string().check(z.regex(/^\d{1,4}$/))),
});

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
  visitorId: z.string(),
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

/** A webhook delivery that ran out of retries. */
export const DeadLetter = z.object({
  event: WebhookEvent,
  attempts: z.number(),
  firstAttemptAt: Timestamp,
  lastAttemptAt: Timestamp,
  lastError: z.object({ code: z.string(), message: z.string(), status: z.optional(z.number()) }),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

/** `GET /v1/conversations/:id/messages` answer. */
export interface HistoryResponse {
  entries: LogEntry[];
  /** Highest sequence number in the log. */
  lastSeq: number;
  /** True when more entries follow the last one returned. */
  hasMore: boolean;
}
