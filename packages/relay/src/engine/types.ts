import type { BackendReadFrame, BackendTypingFrame, Button, ConversationEvent, DeadLetter, DraftFrame, HistoryResponse, LogEntry, Message, Sender, Source, StoredEvent, VisitorContext, WebhookEvent, WebhookEventType } from '@parley/protocol';

/**
 * The engine holds every piece of shared state: conversation records, their logs, the webhook
 * queue with leases, dead letters, site availability, and the fan-out of entries across relay
 * instances.
 *
 * The contract is honest about what a networked engine can promise:
 * - every multi-step change is one atomic engine operation (open a conversation; append an entry
 *   with its webhook jobs and the `started` mark; merge context; a monotonic read seq), so no
 *   caller ever writes back a cached copy and a crash never leaves half of a change behind;
 * - an operation that resolved has committed (the relay acks only then);
 * - leases carry a token, and the engine owns the clock (timestamps, due times, lease expiry).
 *
 * `describeEngine` in `contract.ts` runs one suite of tests against every implementation.
 */
export interface Engine {
  /** `memory`, `sqlite`, `redis` — shown in logs. */
  readonly name: string;
  /** Connect and prepare (open files, subscribe to fan-out). The relay awaits it once before serving. */
  start(): Promise<void>;
  /** True while the engine can serve (drives `/readyz`). */
  isReady(): boolean;
  /** Stop timers, flush and close connections. */
  close(): Promise<void>;
  /** The engine's clock in ms: timestamps of entries and jobs, due times and leases use it. */
  now(): number;

  // ---- conversations ----

  /**
   * Find or create a conversation, atomically, so concurrent opens for one owner (two devices of
   * a verified user, two tabs) get one conversation:
   * 1. a conversation with `request.id` exists: it is returned (`created: false`);
   * 2. otherwise, unless `replace` is set, the owner's current conversation on the site, if it is
   *    not closed, is returned (`created: false`);
   * 3. otherwise a conversation with `request.id` is created and becomes the owner's current one.
   */
  openConversation(request: OpenRequest): Promise<OpenResult>;
  getConversation(id: string): Promise<Conversation | null>;
  /** The current conversation id of an owner on a site, if any. */
  currentConversation(siteKey: string, ownerKey: string): Promise<string | null>;
  /**
   * Merge a context patch into a conversation, atomically: `page` and `product` replace the
   * stored ones, `attrs` are merged key by key. Refused (`TOO_LARGE`, nothing changed) when the
   * result would exceed `maxBytes` of JSON or `LIMITS.maxAttrs` attributes. When the conversation
   * has started, a `context.updated` webhook job carrying the merged context is enqueued in the
   * same operation, unless `quiet` (the page a reconnecting socket reports is stored without a
   * webhook). Null when the conversation does not exist.
   */
  mergeContext(id: string, patch: VisitorContext, maxBytes: number, quiet?: boolean): Promise<MergeResult | null>;
  /** Replace the conversation's identity. Null when the conversation does not exist. */
  setIdentity(id: string, identity: ConversationIdentity): Promise<Conversation | null>;
  /**
   * A visitor who chatted anonymously signed in: make their conversation `id` the current one of
   * the verified user `ownerKey`, atomically, so the chat on their screen carries over:
   * - refused (`refused`, nothing changed) unless the conversation exists on `siteKey`, is not
   *   closed, and is owned by `fromOwnerKey` (the anonymous visitor the token names) or already by
   *   `ownerKey`;
   * - already owned by `ownerKey`: `adopted` with no change (a redone sign-in queues nothing);
   * - otherwise its owner becomes `ownerKey`, its identity `identity`, and it becomes the owner's
   *   current conversation (and stops being `fromOwnerKey`'s). The user's previous current
   *   conversation, if it is another one and not closed, stays open as it is and is returned as
   *   `linkedId`. When the conversation has started, a `visitor.identified` job (carrying
   *   `linkedConversationId`) is enqueued in the same operation, after its earlier events.
   */
  adoptConversation(request: AdoptRequest): Promise<AdoptResult>;
  /** Raise the visitor's read seq to `seq` (never lowers it). Returns the stored read seq, or null when the conversation does not exist. */
  setReadSeq(id: string, seq: number): Promise<number | null>;
  /**
   * Raise the site side's read mark (what an agent, through the backend, has read) to `seq`;
   * never lowers it. Returns the stored mark, or null when the conversation does not exist.
   */
  setPeerReadSeq(id: string, seq: number): Promise<number | null>;
  /**
   * One page of a site's conversations, newest first: by `createdAt`, and among those created in
   * the same millisecond by an order the engine fixes (by id in memory and SQLite, by creation in
   * Redis). `cursor` is the `nextCursor` of the page before: the page holds the conversations
   * strictly after that position, so conversations created meanwhile never repeat an item or push
   * an older one out of reach. `nextCursor` is null when nothing follows. Costs O(log n + limit)
   * whatever the site holds. A cursor that `decodeListCursor` refuses rejects with a TypeError
   * (the REST API validates it first).
   */
  listConversations(siteKey: string, page: ListRequest): Promise<ConversationPage>;
  /** How many conversations are stored (all sites). */
  countConversations(): Promise<number>;
  /**
   * The newest `limit` conversations of one owner on a site, newest first (by `createdAt`, ties in
   * the engine's fixed order, as `listConversations`): a visitor's past conversations. An owner's
   * conversations are those opened for it and those it adopted (`adoptConversation` moves one to
   * its new owner); forgotten ones are gone. Each comes with its newest message among the last
   * `PREVIEW_SCAN` entries its log holds, for a preview. Costs O(log n + limit · PREVIEW_SCAN).
   */
  ownerConversations(siteKey: string, ownerKey: string, limit: number): Promise<OwnedConversation[]>;

  // ---- conversation log ----

  /**
   * Append an entry, its webhook jobs and the conversation's `started` mark in one atomic
   * operation, and fan the entry out to the conversation's subscribers once it has committed.
   *
   * - The engine assigns `seq` (the conversation's next) and `ts` (its clock).
   * - Idempotent on `entry.id` within the conversation: an id among the conversation's last
   *   `dedupeWindow(retention)` appends is a duplicate, changes nothing and returns the original
   *   seq and ts, with the stored entry unless retention has trimmed it (then `entry` is null).
   *   An older id is appended again as a new entry.
   * - With `webhook`, a job of that type carrying the stored message is enqueued; with `start`
   *   too, and the conversation not started yet, a `conversation.started` job (carrying the
   *   context) goes first and the conversation is marked started. Job ids derive from the entry
   *   (`webhookJobId`), so a redone append can never queue a job twice.
   * - A stored `closed` event marks the conversation closed.
   * - Retention: the oldest entries beyond `maxMessages`, and those older than `maxAgeMs`, go.
   *
   * Null when the conversation does not exist.
   */
  append(request: AppendRequest): Promise<AppendResult | null>;
  /**
   * Entries with seq > `afterSeq`, at most `limit`, in seq order. `lastSeq` is the conversation's
   * highest seq (0 when it does not exist); `hasMore` is true when more entries follow the page.
   */
  read(conversationId: string, afterSeq: number, limit: number): Promise<HistoryResponse>;

  // ---- streamed answers ----

  /**
   * Open the streamed answer `id` of a conversation, atomically, so concurrent starts give one
   * stream: an id that is already a logged message (within the dedupe window) answers `ended` with
   * the stored entry and opens nothing; an open stream answers its snapshot (`created: false`) and
   * counts as a step; otherwise an empty snapshot is created and an empty draft fanned out. Null
   * when the conversation does not exist.
   */
  startStream(request: StreamStartRequest): Promise<StreamStartResult | null>;
  /**
   * Append a delta to an open stream, atomically (check and append in one step): text the stream
   * already holds (before its held length) is skipped, the rest appended, and the part appended is
   * fanned out as a draft after it committed. `gap` when `offset` is past the held length, `too-long`
   * when the text would pass `LIMITS.maxTextLength` (nothing appended either way); `ended` when the
   * id is a logged message, `not-found` when no such stream is open. Every answer but `not-found`
   * and `ended` counts as a step. Null when the conversation does not exist.
   */
  appendStream(request: StreamDeltaRequest): Promise<StreamDeltaResult | null>;
  /** The open streams of a conversation, oldest first (empty when none, or no such conversation). */
  openStreams(conversationId: string): Promise<StreamSnapshot[]>;
  /** Open streams whose last step is at least `stallMs` old (engine clock), oldest step first, at most `limit`. */
  stalledStreams(stallMs: number, limit: number): Promise<StreamRef[]>;
  /**
   * Finish or abort a stream in one atomic operation: the final message is appended to the log
   * (seq, retention and dedupe exactly as `append`, no webhook job) and fanned out, and the snapshot
   * is removed. Idempotent on the message id: an id that is already a logged message answers
   * `ended` with `duplicate: true` and the stored entry (and drops a snapshot left under that id).
   * `not-found` when no such stream is open; `empty` when a finish has no text at all (nothing
   * changed); `active` when `stalledMs` is set and the stream had a step within it (nothing
   * changed). Null when the conversation does not exist.
   */
  endStream(request: StreamEndRequest): Promise<StreamEndResult | null>;

  // ---- feedback ----

  /**
   * Enqueue a `message.feedback` job for a visitor's 👍/👎 on a bot message, atomically with its
   * dedupe mark: the job id derives from the conversation and the request id
   * (`webhookJobId(conversationId, id, 'message.feedback')`), and an id seen among the
   * conversation's last 1000 feedbacks is a `duplicate` that enqueues nothing, even after the
   * first job was delivered. `not-found` when `messageId` is not a bot message the log still holds.
   * The job goes at the end of the conversation's queue, after its earlier events. Null when the
   * conversation does not exist.
   */
  enqueueFeedback(request: FeedbackRequest): Promise<FeedbackResult | null>;

  // ---- fan-out ----

  /** Deliver a transient item to the subscribers of its topic on every relay instance. */
  publish(item: TransientItem): Promise<void>;
  /**
   * Receive the items of one topic (`conversationTopic(id)` or `siteTopic(key)`): stored entries
   * of appends that committed (possibly out of seq order, and possibly more than once, across
   * instances), drafts of streamed answers (in the order their steps committed) and transient items. Resolves once the subscription is live, with a function that
   * ends it.
   */
  subscribe(topic: string, listener: (item: FanoutItem) => void): Promise<() => void>;
  /**
   * Only engines that serve one relay instance (memory, SQLite) have it: every item of every
   * topic to one listener, live at once (`topicOf(item)` is its topic). The relay's hub then needs
   * no subscription per topic (an open widget would cost one). Ends with the function it returns.
   */
  subscribeAll?(listener: (item: FanoutItem) => void): () => void;

  // ---- shared limits ----

  /**
   * Take one token from the bucket named `key`, refilled at `rate`; false when it is empty. Every
   * relay instance on the engine shares the bucket, so N instances do not give N times the limit
   * (per-IP new visitors, per-site REST calls). Buckets that refilled are forgotten.
   */
  takeToken(key: string, rate: Rate): Promise<boolean>;
  /**
   * Take one of the `cap` slots named `key` (`conn:<ip>`: open widget sockets per address) for this
   * relay instance; false, and nothing taken, when `cap` slots are held across every instance on
   * the engine. Slots held by an instance that died without giving them back (kill -9) are freed
   * once its liveness lapses (seconds), never kept for good.
   */
  acquireSlot(key: string, cap: number): Promise<boolean>;
  /**
   * Give back one slot of `key` that this instance took. Never below zero. Does not fail while the
   * store is unreachable: the engine keeps the release and retries it once it can.
   */
  releaseSlot(key: string): Promise<void>;

  // ---- site state ----

  /** Whether a site's agents are online; null when never set (the config's `online` applies). */
  getOnline(siteKey: string): Promise<boolean | null>;
  setOnline(siteKey: string, online: boolean): Promise<void>;
  /**
   * Revoke a visitor's tokens: those issued at or before `at` (ms) are refused from now on. Kept
   * for `keepMs` (the token lifetime: by then every such token has expired anyway). A later call
   * moves the mark forward, never back.
   */
  revokeVisitor(siteKey: string, visitorId: string, at: number, keepMs: number): Promise<void>;
  /** The revocation mark of a visitor (ms), or null when none is kept. */
  visitorRevokedAt(siteKey: string, visitorId: string): Promise<number | null>;

  // ---- webhook queue ----

  /**
   * Lease up to `max` due jobs, oldest first, one per conversation: only the first job of each
   * conversation's queue is claimable, and only while it is not leased. So a conversation's events
   * go out in order, and a failing event holds back the later events of its own conversation only.
   * Each claimed job carries a fresh lease token, its `attempts` counts this attempt, and
   * `firstAttemptAt` / `lastAttemptAt` are set. A lease not settled within `leaseMs` expires and
   * the job becomes claimable again (by any instance).
   */
  claimWebhooks(max: number, leaseMs: number): Promise<ClaimedJob[]>;
  /**
   * When a claim can next return a job: the earliest due time of a conversation's first job that
   * is not leased, or the earliest lease expiry; null when the queue is empty. May be early, never late.
   */
  nextWebhookAt(): Promise<number | null>;
  /** The delivery succeeded: drop the job, releasing the conversation's next one. False (and no change) when the lease is stale. */
  completeWebhook(id: string, lease: string): Promise<boolean>;
  /** The delivery failed: the job stays first in its conversation, due `delayMs` from now, with `error` noted. False (and no change) when the lease is stale. */
  retryWebhook(id: string, lease: string, delayMs: number, error: JobError): Promise<boolean>;
  /** The schedule ran out: move the job to the site's dead letters, releasing the conversation's next job. False (and no change) when the lease is stale. */
  deadLetter(id: string, lease: string, error: JobError): Promise<boolean>;
  /** A site's dead letters, oldest first (at most the engine's cap, newest kept). */
  listDeadLetters(siteKey: string): Promise<DeadLetter[]>;
}

/** The identity attached to a conversation. */
export interface ConversationIdentity {
  userId: string;
  name?: string;
  email?: string;
  attrs?: Record<string, string | number | boolean | null>;
  /** True only when the relay checked the identity signature. */
  verified: boolean;
}

export interface Conversation {
  id: string;
  siteKey: string;
  visitorId: string;
  createdAt: number;
  /** Set when `conversation.started` was enqueued (with the first visitor event). */
  started: boolean;
  /** Set by a stored `closed` event. */
  closed: boolean;
  /** The visitor's latest page, product and attributes. */
  context: VisitorContext;
  identity?: ConversationIdentity;
  /** Highest seq the visitor reported as read. */
  readSeq: number;
  /** Highest seq the site's side (an agent, through the backend) reported as read: a widget that connects is told it. */
  peerReadSeq: number;
  /** Highest seq in the log (0 while empty). */
  lastSeq: number;
}

/** One conversation of `ownerConversations`. */
export interface OwnedConversation {
  id: string;
  createdAt: number;
  closed: boolean;
  lastSeq: number;
  /** Its newest message among the last `PREVIEW_SCAN` entries the log holds; null when none (retention, or events only). */
  last: MessageEntry | null;
}

/** A logged message. */
export type MessageEntry = Extract<LogEntry, { kind: 'msg' }>;

/** Entries `ownerConversations` looks back through for a conversation's last message. */
export const PREVIEW_SCAN = 20;

/** What `listConversations` is asked for. */
export interface ListRequest {
  /** At most this many conversations (at least 1). */
  limit: number;
  /** The `nextCursor` of the previous page; none for the newest page. */
  cursor?: string;
}

/** One page of `listConversations`. */
export interface ConversationPage {
  conversations: Conversation[];
  /** Where the next page starts (opaque, base64url); null when this page is the last. */
  nextCursor: string | null;
}

/** What `openConversation` needs to create a conversation. */
export interface OpenRequest {
  /** The id of the conversation to resume or create. */
  id: string;
  siteKey: string;
  /** `v:<visitorId>` for anonymous visitors, `u:<userId>` for verified users. */
  ownerKey: string;
  visitorId: string;
  context: VisitorContext;
  identity?: ConversationIdentity;
  /** Create `id` even when the owner has an open conversation (the visitor asked for a fresh one). */
  replace?: boolean;
}

export interface OpenResult {
  conversation: Conversation;
  /** True for the one call that created it. */
  created: boolean;
}

/** What `adoptConversation` is asked for. */
export interface AdoptRequest {
  /** The conversation on the visitor's screen (their token's). */
  id: string;
  siteKey: string;
  /** The anonymous owner the visitor's token names: `v:<visitorId>`. */
  fromOwnerKey: string;
  /** The verified user: `u:<userId>`. */
  ownerKey: string;
  identity: ConversationIdentity;
}

export type AdoptResult =
  /** `linkedId`: the user's other open conversation, which stays open. */
  | { status: 'adopted'; conversation: Conversation; linkedId?: string }
  | { status: 'refused' };

export type MergeResult = { ok: true; conversation: Conversation } | { ok: false; code: 'TOO_LARGE'; message: string };

/** Retention of one conversation log. */
export interface Retention {
  maxMessages: number;
  maxAgeMs: number;
}

/** An entry to append: the engine assigns `seq` and `ts`. */
export type NewEntry = ({ kind: 'msg' } & Omit<Message, 'seq' | 'ts'>) | ({ kind: 'event' } & Omit<StoredEvent, 'seq' | 'ts'>);

/** The webhook types an appended visitor message can cause. */
export type MessageWebhookType = Exclude<WebhookEventType, 'conversation.started' | 'context.updated' | 'visitor.identified' | 'visitor.typing' | 'visitor.read' | 'upload.requested'>;

export interface AppendRequest {
  conversationId: string;
  entry: NewEntry;
  retention: Retention;
  /** Enqueue a webhook of this type carrying the stored message (only for `msg` entries). */
  webhook?: MessageWebhookType;
  /** Enqueue `conversation.started` first when the conversation has not started, and mark it started. */
  start?: boolean;
}

export type AppendResult =
  | {
      duplicate: false;
      entry: LogEntry;
      seq: number;
      ts: number;
      /**
       * With a webhook: true when an event this append queued is now its conversation's next to
       * deliver (a worker should look at the queue), false when they wait behind an earlier event
       * (settling that one looks again). Absent when it queued nothing.
       */
      queuedHead?: boolean;
    }
  /** `entry` is null when retention trimmed it; `seq` and `ts` are the original ones. */
  | { duplicate: true; entry: LogEntry | null; seq: number; ts: number };

/** Ids of a conversation's last appends stay deduplicated even after retention trimmed their entries. */
export function dedupeWindow(retention: Retention): number {
  return Math.max(retention.maxMessages, 1000);
}

/** A streamed answer being written: the text so far. Ephemeral: never in the log, gone once ended. */
export interface StreamSnapshot {
  conversationId: string;
  /** The message id the finished answer will have. */
  id: string;
  from: Sender;
  /** The text held so far; its length (UTF-16 code units) is the held offset. */
  text: string;
  /** When it was started, and its latest step (engine clock). */
  startedAt: number;
  updatedAt: number;
}

/** Names one open stream. */
export interface StreamRef {
  conversationId: string;
  id: string;
}

export interface StreamStartRequest extends StreamRef {
  from: Sender;
  /** The conversation's retention: its dedupe window tells whether `id` is already a logged message. */
  retention: Retention;
  /**
   * A snapshot with no step for this long may be dropped by the store itself (Redis expires it, in
   * real time): the backstop behind the relay's stall sweep, for when no relay is left to close it.
   */
  keepMs: number;
}

export type StreamStartResult =
  | { status: 'open'; created: boolean; stream: StreamSnapshot }
  /** The id is a logged message: `entry` is null when retention trimmed it. */
  | { status: 'ended'; entry: LogEntry | null; seq: number; ts: number };

export interface StreamDeltaRequest extends StreamRef {
  /** Where `text` starts in the answer (UTF-16 code units). */
  offset: number;
  /** Well-formed UTF-16 (no lone surrogates): the relay checks it at the edge. */
  text: string;
  retention: Retention;
  keepMs: number;
}

export type StreamDeltaResult =
  /** `length` is the held length after the step; `appended` false when nothing was new. */
  | { status: 'ok'; length: number; appended: boolean }
  | { status: 'gap'; length: number }
  | { status: 'too-long'; length: number }
  | { status: 'ended' }
  | { status: 'not-found' };

export interface StreamEndRequest extends StreamRef {
  retention: Retention;
  /** Abort: the text so far is logged marked `incomplete` ('…' when nothing arrived); text, sources and quick replies are ignored. */
  abort?: boolean;
  /** The final text; default the text held. */
  text?: string;
  sources?: Source[];
  /** A quick-replies message instead of a text. */
  quickReplies?: Button[];
  /** Only when the stream had no step for this long (the stall sweep): else `active`, nothing changed. */
  stalledMs?: number;
}

export type StreamEndResult =
  /** `entry` is null only for a duplicate whose entry retention trimmed. */
  | { status: 'ended'; duplicate: boolean; entry: LogEntry | null; seq: number; ts: number }
  | { status: 'not-found' }
  | { status: 'empty' }
  | { status: 'active' };

export interface FeedbackRequest {
  conversationId: string;
  /** The client's idempotency key (the feedback frame's id). */
  id: string;
  messageId: string;
  value: 'up' | 'down';
  comment?: string;
  retention: Retention;
}

export type FeedbackResult = 'queued' | 'duplicate' | 'not-found';

/** Feedback ids a conversation remembers for dedupe (the newest are kept). */
export const FEEDBACK_DEDUPE = 1000;

/** What travels between relay instances. */
export type FanoutItem =
  /** A stored log entry of a conversation, published by `append`. */
  | { kind: 'entry'; conversationId: string; entry: LogEntry }
  /**
   * Items of this topic may have been missed (a networked engine lost its subscription and got it
   * back): subscribers read the log to catch up.
   */
  | { kind: 'resync' }
  /** Text a streamed answer gained, published by `startStream` and `appendStream` after they committed. */
  | DraftItem
  | TransientItem;

/** A draft of a streamed answer: the draft frame without its `t`. */
export interface DraftItem {
  kind: 'draft';
  conversationId: string;
  draft: Omit<DraftFrame, 't'>;
}

export type TransientItem =
  /** A transient event (typing, read, queue position) for one conversation. */
  | { kind: 'transient'; conversationId: string; ts: number; event: ConversationEvent }
  /** A transient event for every socket of a site (availability). */
  | { kind: 'site'; siteKey: string; ts: number; event: ConversationEvent }
  /** A visitor's typing or read mark, for the site's backend sockets on other relay instances. */
  | { kind: 'backend'; siteKey: string; frame: BackendTypingFrame | BackendReadFrame };

/** The fan-out topic of a conversation. */
export const conversationTopic = (conversationId: string): string => `c:${conversationId}`;
/** The fan-out topic of a site. */
export const siteTopic = (siteKey: string): string => `s:${siteKey}`;
/** The fan-out topic of a site's backend sockets. */
export const backendTopic = (siteKey: string): string => `b:${siteKey}`;
/** The topic a fan-out item goes to. */
export const topicOf = (item: Exclude<FanoutItem, { kind: 'resync' }>): string =>
  item.kind === 'site' ? siteTopic(item.siteKey) : item.kind === 'backend' ? backendTopic(item.siteKey) : conversationTopic(item.conversationId);

/** A token bucket's rate: `perSecond` tokens come back each second, up to `burst`. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/**
 * The engine cannot serve now (a networked store is unreachable); nothing was changed. Callers
 * answer with the retryable `NOT_READY` code, so widgets keep the message in their outbox and
 * backends retry with the same id.
 */
export class EngineUnavailableError extends Error {
  readonly code = 'NOT_READY';
  constructor(message = 'The relay cannot reach its store right now; retry.') {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

/** True for an `EngineUnavailableError`, from any copy of this module. */
export function isEngineUnavailable(err: unknown): err is EngineUnavailableError {
  return err instanceof Error && err.name === 'EngineUnavailableError';
}

export interface JobError {
  code: string;
  message: string;
  status?: number;
}

/** One queued webhook delivery. */
export interface WebhookJob {
  /** Equals `event.id` and the `webhook-id` header. */
  id: string;
  siteKey: string;
  conversationId: string;
  event: WebhookEvent;
  /** Attempts made so far (a claimed job counts the attempt it is leased for). */
  attempts: number;
  enqueuedAt: number;
  firstAttemptAt?: number;
  lastAttemptAt?: number;
  /** Not before this time (ms, engine clock). */
  dueAt: number;
  lastError?: JobError;
}

/** A job leased to one worker. */
export interface ClaimedJob extends WebhookJob {
  /** The event's JSON as the engine stored it, when it keeps JSON: a webhook posts it as it is. */
  eventJson?: string;
  /** The lease token: completing, retrying or burying the job needs it. */
  lease: string;
  /** When the lease expires (engine clock). */
  leaseUntil: number;
}
