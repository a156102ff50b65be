import type { MessageBody, WebhookEvent, WebhookEventType } from '@parley/protocol';

/** The webhook event of one type: `WebhookEventOf<'message.created'>`. */
export type WebhookEventOf<T extends WebhookEventType> = Extract<WebhookEvent, { type: T }>;

/** Events that carry a message in `data.message`. */
export type MessageWebhookEvent = WebhookEventOf<'message.created' | 'postback' | 'handoff.requested' | 'rating.submitted'>;

/**
 * A visitor's thumbs up or down on a bot answer: `data.messageId` names the answer, `data.value` is
 * `'up'` or `'down'`, `data.comment` is optional. Each tap reaches the backend once.
 */
export type FeedbackWebhookEvent = WebhookEventOf<'message.feedback'>;

/**
 * A visitor who chatted anonymously signed in, and their conversation became the user's:
 * `visitor.identity` names the user; `data.linkedConversationId` names the user's other open
 * conversation, if they had one (it stays open).
 */
export type IdentifiedWebhookEvent = WebhookEventOf<'visitor.identified'>;

/**
 * The visitor's typing (`data.on`, throttled) and read mark (`data.seq`), as webhooks: only for a
 * site that sets `activityWebhooks`. Ephemeral: sent once, never retried; answer 2xx, no reply.
 */
export type ActivityWebhookEvent = WebhookEventOf<'visitor.typing' | 'visitor.read'>;

/**
 * A visitor picked a file and waits for somewhere to upload it (`data.name`, `data.size` in bytes,
 * `data.mime`): answer at once with `{upload: {url, method, fields?, headers?, fileUrl, maxBytes?,
 * types?}}` (a presigned URL of your storage). Sent once, never retried; a 2xx without `upload`
 * declines it.
 */
export type UploadRequestedEvent = WebhookEventOf<'upload.requested'>;

/** Narrows an event to one or more types: `if (isEventType(event, 'postback')) event.data.message`. */
export function isEventType<T extends WebhookEventType>(event: WebhookEvent, ...types: T[]): event is WebhookEventOf<T> {
  return (types as WebhookEventType[]).includes(event.type);
}

/** True for the events that carry a visitor's message. */
export function hasMessage(event: WebhookEvent): event is MessageWebhookEvent {
  return isEventType(event, 'message.created', 'postback', 'handoff.requested', 'rating.submitted');
}

/** The body of a message, narrowed to one type: `bodyOf(event, 'text')?.text`. */
export function bodyOf<T extends MessageBody['type']>(event: WebhookEvent, type: T): Extract<MessageBody, { type: T }> | undefined {
  if (!hasMessage(event)) return undefined;
  const body = event.data.message.body;
  return body.type === type ? (body as Extract<MessageBody, { type: T }>) : undefined;
}
