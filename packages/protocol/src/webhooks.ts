import { z } from 'zod/mini';
import { PageContext, ProductContext } from './frames.js';
import { LIMITS } from './limits.js';
import { BackendBody, Message, Sender } from './messages.js';
import { Attrs, HttpUrl, Id, Seq, Timestamp, str, text } from './schemas.js';
import { MAX_UPLOAD_PAIRS, MAX_UPLOAD_TYPES, MAX_UPLOAD_VALUE, MIME_PATTERN_RE } from './uploads.js';

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
  /** The highest seq the visitor had read when the event was queued (absent in events queued before relays sent it). */
  readSeq: z.optional(Seq),
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
  envelope(
    'message.feedback',
    z.object({
      /** The bot answer rated. */
      messageId: Id,
      value: z.enum(['up', 'down']),
      comment: z.optional(text(LIMITS.maxCommentLength)),
    }),
  ),
  /**
   * A visitor who chatted anonymously signed in (a verified identity) and the conversation on
   * their screen became their user's conversation: `visitor.identity` names the user. When the
   * user already had another open conversation, it stays open and is named here.
   */
  envelope('visitor.identified', z.object({ linkedConversationId: z.optional(Id) })),
  /**
   * Ephemeral, and only for sites that set `activityWebhooks`: the visitor started (`on`) or
   * stopped typing, throttled per conversation. Sent once, never queued nor retried.
   */
  envelope('visitor.typing', z.object({ on: z.boolean() })),
  /** Ephemeral, and only for sites that set `activityWebhooks`: the visitor has read up to `seq`. Sent once, never queued nor retried. */
  envelope('visitor.read', z.object({ seq: Seq })),
  /**
   * The visitor picked a file (its name, size in bytes and MIME type, as the browser reports
   * them) and waits for somewhere to upload it: answer at once with `{upload: UploadTarget}`.
   * Only for sites with `uploads`; sent once, never queued nor retried (see docs/backend-api.md).
   */
  envelope(
    'upload.requested',
    z.object({ name: str(LIMITS.maxShortLength), size: z.number().check(z.int(), z.gte(0)), mime: str(LIMITS.maxShortLength) }),
  ),
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
  'message.feedback',
  'visitor.identified',
  'visitor.typing',
  'visitor.read',
  'upload.requested',
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

/** Form fields or headers of an upload target: at most `MAX_UPLOAD_PAIRS` names. */
const UploadPairs = z
  .record(str(LIMITS.maxShortLength), text(MAX_UPLOAD_VALUE))
  .check(z.refine((pairs) => Object.keys(pairs).length <= MAX_UPLOAD_PAIRS, { message: `At most ${MAX_UPLOAD_PAIRS} entries.` }));

/**
 * Where a visitor uploads a file: the backend's answer to `upload.requested`. The widget sends the
 * file to `url` straight from the browser — `PUT` with the file as the body and `headers` (a
 * presigned PUT URL), or `POST` as a multipart form of `fields` then `file` (a presigned POST) —
 * then sends a `file` message with `fileUrl`, where the file can be read afterwards. `maxBytes`
 * and `types` narrow the site's `uploads` allowance for this file's target.
 */
export const UploadTarget = z.object({
  url: HttpUrl,
  method: z.enum(['PUT', 'POST']),
  fields: z.optional(UploadPairs),
  headers: z.optional(UploadPairs),
  fileUrl: HttpUrl,
  maxBytes: z.optional(z.number().check(z.int(), z.gte(0))),
  types: z.optional(z.array(z.string().check(z.regex(MIME_PATTERN_RE))).check(z.minLength(1), z.maxLength(MAX_UPLOAD_TYPES))),
});
export type UploadTarget = z.infer<typeof UploadTarget>;

/**
 * The optional JSON body of a 2xx webhook answer (or of a backend socket's `ack`): replies
 * appended at once; for `upload.requested`, the upload target.
 */
export const WebhookReply = z.object({
  messages: z.optional(z.array(OutgoingMessage).check(z.maxLength(LIMITS.maxInlineReplies))),
  upload: z.optional(UploadTarget),
});
export type WebhookReply = z.infer<typeof WebhookReply>;

/**
 * The body of a batched webhook request (a site with `webhookBatch` above 1): the events that were
 * due at once, at most one per conversation, each as it would be POSTed alone. The request is
 * signed like any webhook; its `webhook-id` header is the batch's `id`, and each event keeps its
 * own stable `id` (deduplicate on those).
 */
export const WebhookBatch = z.object({
  type: z.literal('batch'),
  id: str(LIMITS.maxIdLength),
  events: z.array(WebhookEvent).check(z.minLength(1), z.maxLength(LIMITS.maxWebhookBatch)),
});
export type WebhookBatch = z.infer<typeof WebhookBatch>;

/**
 * The optional JSON body of a 2xx answer to a batch: each event's reply under its event id. A 2xx
 * answer settles every event of the batch; any other answer fails them all (each is retried on
 * its own schedule).
 */
export const WebhookBatchReply = z.object({
  replies: z.optional(z.record(str(LIMITS.maxIdLength), WebhookReply)),
});
export type WebhookBatchReply = z.infer<typeof WebhookBatchReply>;
