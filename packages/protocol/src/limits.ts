/** Wire protocol version, sent in `hello` and `welcome`. */
export const PROTOCOL_VERSION = 1;

/** Hard limits every edge enforces. Relay options may lower (never raise) the frame cap. */
export const LIMITS = {
  /** Largest frame the relay accepts, in bytes (UTF-8). */
  maxFrameBytes: 16 * 1024,
  /** Largest REST request body, in bytes. */
  maxBodyBytes: 64 * 1024,
  /** Characters in a text message. */
  maxTextLength: 4000,
  /** Buttons under a quick-replies message. */
  maxQuickReplies: 10,
  /** Action buttons on a card. */
  maxCardActions: 3,
  /** Characters in a button label. */
  maxLabelLength: 80,
  /** Characters in a button or postback value. */
  maxValueLength: 256,
  /** Characters in a rating comment. */
  maxCommentLength: 1000,
  /** Characters in a client- or backend-supplied id. */
  maxIdLength: 64,
  /** Characters in a URL. */
  maxUrlLength: 2048,
  /** Characters in a short field: names, titles, prices. */
  maxShortLength: 200,
  /** Messages returned by one history page. */
  maxHistoryPage: 200,
  /** Messages a webhook reply may carry inline. */
  maxInlineReplies: 10,
  /** Events in one batched webhook request (a site's `webhookBatch`). */
  maxWebhookBatch: 100,
  /** Sources under one answer. */
  maxSources: 10,
  /** Keys in a free-form attribute map. */
  maxAttrs: 50,
} as const;

export type Limits = typeof LIMITS;
