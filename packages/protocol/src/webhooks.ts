import { z } from 'zod/mini';
import { PageContext, ProductContext } from './frames.js';
import { LIMITS } from './limits.js';
import { BackendBody, Message, Sender } from './messages.js';
import { Attrs, Id, Timestamp, str, text } from './schemas.js';

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
  envelope(
    'message.feedback',
    z.object({
      /** The bot answer rated. */
      messageId: Id,
      value: z.enum(['up', 'down']),
      comment: z.optional(text(LIMITS.maxCommentLength)),
    }),
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
