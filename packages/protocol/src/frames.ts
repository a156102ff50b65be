import { z } from 'zod/mini';
import { ConversationEvent } from './events.js';
import { LIMITS } from './limits.js';
import { Button, Message, Sender, VisitorBody } from './messages.js';
import { HEX_SHA256_RE } from './patterns.js';
import { Attrs, HttpUrl, Id, Seq, Timestamp, str, text } from './schemas.js';
import { MAX_UPLOAD_PAIRS, MAX_UPLOAD_TYPES, MAX_UPLOAD_VALUE } from './uploads.js';
import { MAX_PAST, PAST_PAGE, PREVIEW_LENGTH } from './past.js';

/** Where the visitor is: sent in `hello` and in `context` frames on SPA route changes. */
export const PageContext = z.object({
  url: z.optional(HttpUrl),
  title: z.optional(text(LIMITS.maxShortLength * 2)),
  referrer: z.optional(z.union([HttpUrl, z.literal('')])),
  locale: z.optional(text(35)),
});
export type PageContext = z.infer<typeof PageContext>;

/** The product the visitor is looking at, for the agent's side panel. */
export const ProductContext = z.object({
  id: z.optional(text(LIMITS.maxShortLength)),
  title: str(LIMITS.maxShortLength),
  price: z.optional(text(LIMITS.maxShortLength)),
  url: z.optional(HttpUrl),
  imageUrl: z.optional(HttpUrl),
});
export type ProductContext = z.infer<typeof ProductContext>;

/**
 * Who the visitor is, as the merchant's page knows it. `signature` is
 * hex(HMAC-SHA256(identitySecret, userId)), computed on the merchant's server; with a
 * valid one the identity is marked verified and the user's conversation follows them
 * across devices. Without one the fields are forwarded, flagged as unverified.
 */
export const Identity = z.object({
  userId: str(LIMITS.maxShortLength),
  name: z.optional(text(LIMITS.maxShortLength)),
  email: z.optional(text(LIMITS.maxShortLength)),
  attrs: z.optional(Attrs),
  signature: z.optional(z.string().check(z.regex(new RegExp(HEX_SHA256_RE.source, 'i')))),
});
export type Identity = z.infer<typeof Identity>;

// ---- widget → relay ----

/** First frame on every socket. */
export const HelloFrame = z.object({
  t: z.literal('hello'),
  v: z.number().check(z.int()),
  siteKey: str(LIMITS.maxShortLength),
  /** The visitor token from an earlier `welcome`, if the browser has one. */
  token: z.optional(str(1024)),
  /** Highest sequence number this client has already shown; the relay replays the rest. */
  lastSeq: z.optional(Seq),
  page: z.optional(PageContext),
  identity: z.optional(Identity),
  /** Start a new conversation for this visitor (after the last one was closed). */
  fresh: z.optional(z.boolean()),
});

/** A visitor message. `id` is the client's idempotency key (from `newId`). */
export const SendFrame = z.object({ t: z.literal('send'), id: Id, body: VisitorBody });
export const TypingFrame = z.object({ t: z.literal('typing'), on: z.boolean() });
/** The visitor has seen everything up to `seq`. */
export const ReadFrame = z.object({ t: z.literal('read'), seq: Seq });
export const ContextFrame = z.object({
  t: z.literal('context'),
  page: z.optional(PageContext),
  product: z.optional(ProductContext),
  attrs: z.optional(Attrs),
});
export const PingFrame = z.object({ t: z.literal('ping'), ts: z.optional(Timestamp) });
/**
 * 👍 or 👎 on a bot's answer `messageId`, with an optional comment. `id` is the client's
 * idempotency key (a retry with the same id reaches the backend once, as `message.feedback`).
 */
export const FeedbackFrame = z.object({
  t: z.literal('feedback'),
  id: Id,
  messageId: Id,
  value: z.enum(['up', 'down']),
  comment: z.optional(text(LIMITS.maxCommentLength)),
});

/**
 * Ask where to upload a file the visitor picked (the bytes never pass through the relay). `id` is
 * the client's key, repeated in the answer: an `upload` frame with the target, or an `error`.
 */
export const UploadFrame = z.object({
  t: z.literal('upload'),
  id: Id,
  name: str(LIMITS.maxShortLength),
  size: z.number().check(z.int(), z.gte(0)),
  mime: str(LIMITS.maxShortLength),
});

/**
 * Ask for the visitor's past conversations (the same owner: their verified user id, else their
 * visitor id): without `conversationId`, the list (a `conversations` frame); with it, that
 * conversation's entries after seq `after` (a `history` frame, read-only). `id` is the client's
 * key, repeated in the answer or in the `error` (`NOT_FOUND` for a conversation of someone else).
 */
export const HistoryFrame = z.object({
  t: z.literal('history'),
  id: Id,
  conversationId: z.optional(Id),
  after: z.optional(Seq),
});

/** Every frame a widget may send. */
export const ClientFrame = z.discriminatedUnion('t', [HelloFrame, SendFrame, TypingFrame, ReadFrame, ContextFrame, PingFrame, FeedbackFrame, UploadFrame, HistoryFrame]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type SendFrame = z.infer<typeof SendFrame>;
export type ContextFrame = z.infer<typeof ContextFrame>;
export type FeedbackFrame = z.infer<typeof FeedbackFrame>;
export type UploadFrame = z.infer<typeof UploadFrame>;
export type HistoryFrame = z.infer<typeof HistoryFrame>;

// ---- relay → widget ----

/** The site's greeting, shown at once on open with no backend round trip. */
export const Greeting = z.object({
  text: str(LIMITS.maxTextLength),
  quickReplies: z.array(Button).check(z.maxLength(LIMITS.maxQuickReplies)),
});
export type Greeting = z.infer<typeof Greeting>;

export const WelcomeFrame = z.object({
  t: z.literal('welcome'),
  v: z.number().check(z.int()),
  conversationId: Id,
  visitorId: Id,
  /** Keep this and send it in the next `hello` to resume the same conversation. */
  token: str(1024),
  /** Highest sequence number in the conversation log. */
  lastSeq: Seq,
  /**
   * The conversation the client held is gone (a memory-engine restart, retention) and this is a
   * new one: drop the stored lastSeq and timeline. The relay replays the new one from seq 0.
   */
  reset: z.optional(z.boolean()),
  greeting: Greeting,
  site: z.object({ name: str(LIMITS.maxShortLength) }),
  /** Whether human agents are available now. */
  online: z.boolean(),
  /** The identity the relay accepted, if any. */
  identity: z.optional(z.object({ userId: str(LIMITS.maxShortLength), verified: z.boolean() })),
  limits: z.object({
    maxFrameBytes: z.number(),
    maxTextLength: z.number(),
    maxQuickReplies: z.number(),
  }),
});

export const AckFrame = z.object({ t: z.literal('ack'), id: Id, seq: Seq, ts: Timestamp });

/** A stored message, pushed live or replayed after `welcome`. */
export const MsgFrame = z.extend(Message, { t: z.literal('msg') });

/** A conversation event. Stored events carry `seq` and `id` and are replayed; transient ones do not. */
export const EventFrame = z.object({
  t: z.literal('event'),
  seq: z.optional(Seq),
  id: z.optional(Id),
  ts: Timestamp,
  event: ConversationEvent,
});

export const ErrorFrame = z.object({
  t: z.literal('error'),
  /** A code from the error registry (clients must tolerate codes they do not know). */
  code: str(64),
  message: text(LIMITS.maxShortLength * 2),
  /** The `send` id this error is about, if any. */
  id: z.optional(Id),
});

export const PongFrame = z.object({ t: z.literal('pong'), ts: Timestamp });

/**
 * Part of an answer a bot is still writing (ephemeral: never stored, never given a seq).
 * `text` starts at character `offset` (UTF-16 code units) of the answer: a client keeps
 * `draft.slice(0, offset) + text` when `offset` is at most the length it holds, and ignores
 * it otherwise (a later snapshot or the finished message fills the gap). A socket that joins
 * mid-answer gets the whole text so far once, with `offset: 0`. The finished answer arrives
 * as a `msg` with the same `id`, which replaces the draft.
 */
export const DraftFrame = z.object({
  t: z.literal('draft'),
  id: Id,
  ts: Timestamp,
  from: Sender,
  offset: z.number().check(z.int(), z.gte(0), z.lte(LIMITS.maxTextLength)),
  text: text(LIMITS.maxTextLength),
});

/** A form field or header of an upload target, in order. */
const UploadPair = z.object({ name: str(LIMITS.maxShortLength), value: text(MAX_UPLOAD_VALUE) });

/**
 * Where to upload the file of the `upload` frame `id`, from the site's backend: send it to `url`
 * with `method` (`PUT`: the file as the body, with `headers`; `POST`: a multipart form of `fields`
 * then the file as `file`), then send a `file` message with `fileUrl`. `maxBytes` and `types`
 * are what the site and its backend allow together: the widget refuses a file outside them.
 */
export const UploadTargetFrame = z.object({
  t: z.literal('upload'),
  id: Id,
  url: HttpUrl,
  method: z.enum(['PUT', 'POST']),
  fields: z.optional(z.array(UploadPair).check(z.maxLength(MAX_UPLOAD_PAIRS))),
  headers: z.optional(z.array(UploadPair).check(z.maxLength(MAX_UPLOAD_PAIRS))),
  fileUrl: HttpUrl,
  maxBytes: z.number().check(z.int(), z.gte(0)),
  types: z.array(str(LIMITS.maxShortLength)).check(z.maxLength(MAX_UPLOAD_TYPES)),
});

/** One of the visitor's past conversations, as the `conversations` frame lists it. */
export const PastConversation = z.object({
  id: Id,
  createdAt: Timestamp,
  closed: z.boolean(),
  /** Highest seq of its log. */
  lastSeq: Seq,
  /** The start of its last message (text, card title or file name); absent when retention dropped it. */
  preview: z.optional(text(PREVIEW_LENGTH)),
});
export type PastConversation = z.infer<typeof PastConversation>;

/** The visitor's past conversations, newest first: the answer to a `history` frame without `conversationId`. */
export const ConversationsFrame = z.object({
  t: z.literal('conversations'),
  id: Id,
  items: z.array(PastConversation).check(z.maxLength(MAX_PAST)),
});

/**
 * One page of a past conversation's log, in seq order (messages and stored events, told apart by
 * `kind`): the answer to a `history` frame with `conversationId`. `hasMore`: ask again with
 * `after` set to the last entry's seq.
 */
export const HistoryPageFrame = z.object({
  t: z.literal('history'),
  id: Id,
  conversationId: Id,
  entries: z
    .array(
      z.discriminatedUnion('kind', [
        z.extend(Message, { kind: z.literal('msg') }),
        z.object({ kind: z.literal('event'), seq: Seq, id: Id, ts: Timestamp, event: ConversationEvent }),
      ]),
    )
    .check(z.maxLength(PAST_PAGE)),
  hasMore: z.boolean(),
});

/** Every frame the relay may send. */
export const ServerFrame = z.discriminatedUnion('t', [WelcomeFrame, AckFrame, MsgFrame, EventFrame, ErrorFrame, PongFrame, DraftFrame, UploadTargetFrame, ConversationsFrame, HistoryPageFrame]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type AckFrame = z.infer<typeof AckFrame>;
export type MsgFrame = z.infer<typeof MsgFrame>;
export type EventFrame = z.infer<typeof EventFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type DraftFrame = z.infer<typeof DraftFrame>;
export type UploadTargetFrame = z.infer<typeof UploadTargetFrame>;
export type ConversationsFrame = z.infer<typeof ConversationsFrame>;
export type HistoryPageFrame = z.infer<typeof HistoryPageFrame>;

/** A stored event in the conversation log. */
export const StoredEvent = z.object({ seq: Seq, id: Id, ts: Timestamp, event: ConversationEvent });
export type StoredEvent = z.infer<typeof StoredEvent>;

/** One entry of the conversation log: a message or a stored event. */
export type LogEntry = ({ kind: 'msg' } & Message) | ({ kind: 'event' } & StoredEvent);

/** The author of a frame, re-exported for convenience. */
export { Sender };
