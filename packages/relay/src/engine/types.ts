import type { ConversationEvent, DeadLetter, HistoryResponse, LogEntry, Message, StoredEvent, VisitorContext, WebhookEvent } from '@parley/protocol';

/**
 * The engine holds every piece of shared state: conversation logs, conversation records,
 * site availability, cross-instance fan-out and the webhook queue. Everything is async so a
 * networked engine (Redis: Streams for logs and the webhook queue with consumer groups,
 * pub/sub for fan-out) plugs in without changing the rest of the relay.
 */
export interface Engine {
  /** `memory`, `redis`, … — shown in logs. */
  readonly name: string;
  /** Connect and prepare. The relay calls it once before serving. */
  start(): Promise<void>;
  /** True while the engine can serve (drives `/readyz`). */
  isReady(): boolean;
  /** Stop timers and connections. */
  close(): Promise<void>;

  // ---- conversations ----
  /** Store a new conversation and make it the current one of `ownerKey` (`v:<visitorId>` or `u:<userId>`). */
  createConversation(conversation: Conversation, ownerKey: string): Promise<void>;
  getConversation(id: string): Promise<Conversation | null>;
  /** The current conversation id of an owner on a site, if any. */
  currentConversation(siteKey: string, ownerKey: string): Promise<string | null>;
  /** Merge a patch into a conversation; returns the updated record, or null if it does not exist. */
  updateConversation(id: string, patch: ConversationPatch): Promise<Conversation | null>;
  /** Mark a conversation started. Resolves true only for the one call that changed it (atomic). */
  markStarted(id: string): Promise<boolean>;
  /** A site's conversations, newest first. */
  listConversations(siteKey: string, limit: number): Promise<Conversation[]>;

  // ---- conversation log ----
  /**
   * Append an entry, idempotent on `entry.id` within the conversation: a second append of
   * the same id returns the stored entry with `duplicate: true` and changes nothing.
   * Applies retention (oldest entries beyond `maxMessages` or older than `maxAgeMs` go).
   */
  append(conversationId: string, entry: NewEntry, retention: Retention): Promise<AppendResult>;
  /** Entries with seq > `afterSeq`, at most `limit`, in seq order. */
  read(conversationId: string, afterSeq: number, limit: number): Promise<HistoryResponse>;

  // ---- fan-out ----
  /** Deliver an item to every relay instance's subscribers (this one included). */
  publish(item: FanoutItem): Promise<void>;
  /** Receive every published item. Returns an unsubscribe function. */
  subscribe(listener: (item: FanoutItem) => void): () => void;

  // ---- site state ----
  /** Whether a site's agents are online; null when never set (the config's `online` applies). */
  getOnline(siteKey: string): Promise<boolean | null>;
  setOnline(siteKey: string, online: boolean): Promise<void>;

  // ---- webhook queue ----
  enqueueWebhooks(jobs: WebhookJob[]): Promise<void>;
  /**
   * Lease up to `max` jobs due at `now`, oldest first, at most one in flight per
   * conversation (so a conversation's events go out in order while nothing fails). A job
   * waiting for its retry holds back neither other conversations nor the later jobs of its
   * own (a retried job goes to the end of the queue). A lease that is neither completed nor
   * rescheduled within `leaseMs` makes the job claimable again (by any instance).
   */
  claimWebhooks(now: number, max: number, leaseMs: number): Promise<WebhookJob[]>;
  /**
   * When a claim can next return a job: the earliest due time among conversations with
   * nothing in flight, or the earliest lease expiry (now or in the past when something is
   * claimable already); null when the queue is empty. The worker sleeps until then (or until
   * a kick or its poll interval), so the answer may be early, never late; a conversation's
   * backlog behind a job in flight need not count, as finishing that job kicks the worker.
   */
  nextWebhookAt(): Promise<number | null>;
  /** The delivery succeeded: drop the job. */
  completeWebhook(id: string): Promise<void>;
  /** The delivery failed: try again at `job.dueAt` (the job carries the updated attempt count and error). */
  retryWebhook(job: WebhookJob): Promise<void>;
  /** The schedule ran out: move the job to the dead-letter list. */
  deadLetter(job: WebhookJob): Promise<void>;
  /** A site's dead letters, oldest first. */
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
  /** Set when the first visitor-originated event was forwarded (`conversation.started` sent). */
  started: boolean;
  /** Set by a stored `closed` event. */
  closed: boolean;
  /** The visitor's latest page, product and attributes. */
  context: VisitorContext;
  identity?: ConversationIdentity;
  /** Highest seq the visitor reported as read. */
  readSeq: number;
}

export type ConversationPatch = Partial<Pick<Conversation, 'closed' | 'context' | 'identity' | 'readSeq'>>;

/** Retention of one conversation log. */
export interface Retention {
  maxMessages: number;
  maxAgeMs: number;
}

/** An entry to append: the engine assigns `seq`. */
export type NewEntry = ({ kind: 'msg' } & Omit<Message, 'seq'>) | ({ kind: 'event' } & Omit<StoredEvent, 'seq'>);

export interface AppendResult {
  entry: LogEntry;
  /** True when the id was already in the log; `entry` is the stored one. */
  duplicate: boolean;
}

/** What travels between relay instances. */
export type FanoutItem =
  /** A stored log entry of a conversation. */
  | { kind: 'entry'; conversationId: string; entry: LogEntry }
  /** A transient event (typing, read, availability) for one conversation. */
  | { kind: 'transient'; conversationId: string; ts: number; event: ConversationEvent }
  /** A transient event for every socket of a site. */
  | { kind: 'site'; siteKey: string; ts: number; event: ConversationEvent };

/** One queued webhook delivery. */
export interface WebhookJob {
  /** Equals `event.id` and the `webhook-id` header. */
  id: string;
  siteKey: string;
  conversationId: string;
  event: WebhookEvent;
  /** Attempts made so far. */
  attempts: number;
  enqueuedAt: number;
  firstAttemptAt?: number;
  lastAttemptAt?: number;
  /** Not before this time (ms). */
  dueAt: number;
  lastError?: { code: string; message: string; status?: number };
}
