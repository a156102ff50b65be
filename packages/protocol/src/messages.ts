import { z } from 'zod/mini';
import { LIMITS } from './limits.js';
import { EMAIL_RE } from './patterns.js';
import { HttpUrl, Id, Seq, Timestamp, str, text } from './schemas.js';

/** Who wrote a message. Every non-visitor message is labelled with its role in the UI. */
export const Role = z.enum(['visitor', 'bot', 'agent', 'system']);
export type Role = z.infer<typeof Role>;

/** The author of a message or event. */
export const Sender = z.object({
  role: Role,
  /** Stable id of the agent or bot, when the backend has one. */
  id: z.optional(Id),
  /** Display name: "Bot", "Mia from support". */
  name: z.optional(str(LIMITS.maxShortLength)),
  /** Avatar image. */
  avatarUrl: z.optional(HttpUrl),
  /** A bot whose answers a language model writes: the widget labels it "AI", not "Bot". */
  ai: z.optional(z.boolean()),
});
export type Sender = z.infer<typeof Sender>;

/** A tappable button: `value` goes back as a postback, `label` is what the visitor sees. */
export const Button = z.object({
  label: str(LIMITS.maxLabelLength),
  value: str(LIMITS.maxValueLength),
});
export type Button = z.infer<typeof Button>;

/** A card action: a postback button, or a link when `url` is set. */
export const CardAction = z.object({
  label: str(LIMITS.maxLabelLength),
  value: z.optional(str(LIMITS.maxValueLength)),
  url: z.optional(HttpUrl),
});
export type CardAction = z.infer<typeof CardAction>;

/** Where an answer came from: shown under it as a link. */
export const Source = z.object({
  title: str(LIMITS.maxShortLength),
  url: HttpUrl,
});
export type Source = z.infer<typeof Source>;

/** The sources of a bot's answer (backend-authored text and quick replies only). */
const sources = z.optional(z.array(Source).check(z.maxLength(LIMITS.maxSources)));

export const TextBody = z.object({
  type: z.literal('text'),
  text: str(LIMITS.maxTextLength),
  sources,
});

/** A visitor's text: sources are the backend's alone. */
const VisitorTextBody = z.omit(TextBody, { sources: true });

export const QuickRepliesBody = z.object({
  type: z.literal('quick_replies'),
  text: str(LIMITS.maxTextLength),
  replies: z.array(Button).check(z.minLength(1), z.maxLength(LIMITS.maxQuickReplies)),
  sources,
});

export const CardBody = z.object({
  type: z.literal('card'),
  kind: z.enum(['product', 'order']),
  title: str(LIMITS.maxShortLength),
  subtitle: z.optional(text(LIMITS.maxShortLength * 2)),
  /** Display price, already formatted by the merchant: "€49.00". */
  price: z.optional(text(LIMITS.maxShortLength)),
  imageUrl: z.optional(HttpUrl),
  url: z.optional(HttpUrl),
  actions: z.optional(z.array(CardAction).check(z.maxLength(LIMITS.maxCardActions))),
});

export const PostbackBody = z.object({
  type: z.literal('postback'),
  value: str(LIMITS.maxValueLength),
  label: str(LIMITS.maxLabelLength),
});

export const RatingBody = z.object({
  type: z.literal('rating'),
  score: z.number().check(z.int(), z.gte(1), z.lte(5)),
  comment: z.optional(text(LIMITS.maxCommentLength)),
});

/** A file the sender uploaded to the site's own storage (files never pass through the relay). */
export const FileBody = z.object({
  type: z.literal('file'),
  name: str(LIMITS.maxShortLength),
  size: z.number().check(z.int(), z.gte(0)),
  mime: str(LIMITS.maxShortLength),
  url: HttpUrl,
});

/** The leave-a-message form shown while the site is offline. */
export const ContactBody = z.object({
  type: z.literal('contact'),
  email: z.string().check(z.maxLength(LIMITS.maxShortLength), z.regex(EMAIL_RE)),
  text: str(LIMITS.maxTextLength),
});

/** Every message body. */
export const MessageBody = z.discriminatedUnion('type', [
  TextBody,
  QuickRepliesBody,
  CardBody,
  PostbackBody,
  RatingBody,
  FileBody,
  ContactBody,
]);
export type MessageBody = z.infer<typeof MessageBody>;
export type TextBody = z.infer<typeof TextBody>;
export type QuickRepliesBody = z.infer<typeof QuickRepliesBody>;
export type CardBody = z.infer<typeof CardBody>;
export type PostbackBody = z.infer<typeof PostbackBody>;
export type RatingBody = z.infer<typeof RatingBody>;
export type FileBody = z.infer<typeof FileBody>;
export type ContactBody = z.infer<typeof ContactBody>;

/** Bodies a visitor may send (a `file` only to an upload host the site allows: see `upload` frames). */
export const VisitorBody = z.discriminatedUnion('type', [VisitorTextBody, PostbackBody, RatingBody, ContactBody, FileBody]);
export type VisitorBody = z.infer<typeof VisitorBody>;

/** Bodies a backend (bot or agent) may send. */
export const BackendBody = z.discriminatedUnion('type', [TextBody, QuickRepliesBody, CardBody, FileBody]);
export type BackendBody = z.infer<typeof BackendBody>;

export { HANDOFF_VALUE } from './handoff.js';

/** A message as stored in the conversation log and pushed to sockets. */
export const Message = z.object({
  seq: Seq,
  id: Id,
  ts: Timestamp,
  from: Sender,
  body: MessageBody,
  /** A streamed answer that was aborted or stalled before it finished: `body` holds the text that arrived. */
  incomplete: z.optional(z.boolean()),
});
export type Message = z.infer<typeof Message>;
