import type { DeadLetter, HistoryResponse, LogEntry, Sender, VisitorContext } from '@parley/protocol';
import { newId } from '../ids.js';
import { LocalBuckets } from '../token-bucket.js';
import {
  MAX_STREAM_LENGTH,
  appendJobs,
  cloneData,
  closesConversation,
  deepFreeze,
  deltaPart,
  encodeListCursor,
  identifiedJobId,
  listPositionOf,
  makeJob,
  mergeContextValue,
  pageLimit,
  startsConversation,
  streamEntry,
  webhookJobId,
  type ListPosition,
} from './shared.js';
import {
  FEEDBACK_DEDUPE,
  PREVIEW_SCAN,
  dedupeWindow,
  type AdoptRequest,
  type AdoptResult,
  type AppendRequest,
  type AppendResult,
  type ClaimedJob,
  type Conversation,
  type ConversationIdentity,
  type ConversationPage,
  type Engine,
  type FanoutItem,
  type FeedbackRequest,
  type FeedbackResult,
  type JobError,
  type ListRequest,
  type MergeResult,
  type OpenRequest,
  type OpenResult,
  type NewEntry,
  type OwnedConversation,
  type Rate,
  type StreamDeltaRequest,
  type StreamDeltaResult,
  type StreamEndRequest,
  type StreamEndResult,
  type StreamRef,
  type StreamSnapshot,
  type StreamStartRequest,
  type StreamStartResult,
  type TransientItem,
} from './types.js';
import { LocalFanout, LocalSlots } from './in-process.js';
import { WebhookQueue } from './webhook-queue.js';

export interface MemoryEngineOptions {
  /** The engine's clock (ms). Default `Date.now`. */
  now?: () => number;
  /** Dead letters kept per site (oldest go first). Default 1000. */
  maxDeadLetters?: number;
  /** Conversations never appended to are forgotten this long after their creation. Default 24 h. */
  emptyConversationTtlMs?: number;
  /** How often expired entries and idle conversations are swept. Default 60 s. */
  sweepIntervalMs?: number;
  /** Called with what a fan-out listener threw; delivery to the other listeners goes on. Default: ignored. */
  onListenerError?: (error: unknown) => void;
}

interface Log {
  /** Kept entries are `entries[head..]`, contiguous in seq; the slots before `head` were trimmed and await compaction. */
  entries: (LogEntry | undefined)[];
  head: number;
  /** Ids of the recent appends (within the dedupe window), with their seq. */
  ids: Map<string, number>;
  /**
   * The same ids in append order, `recent[recentHead..]`, and beside them their times: every
   * append adds one, so the seq of `recent[i]` is `recentBase + i`. Plain ids and numbers, no
   * object per entry (the engine keeps a whole log in the heap).
   */
  recent: (string | undefined)[];
  recentTs: number[];
  recentHead: number;
  recentBase: number;
  /** The retention age of the latest append; null before the first one. */
  maxAgeMs: number | null;
  /** Creation or latest append. */
  lastActivityAt: number;
}

/** An open streamed answer. */
interface OpenStream {
  id: string;
  from: Sender;
  text: string;
  startedAt: number;
  updatedAt: number;
}

interface Stored {
  conversation: Conversation;
  ownerKey: string;
  log: Log;
  /** Open streamed answers by message id, in start order; absent while none was ever opened. */
  streams?: Map<string, OpenStream>;
  /** Feedback ids seen, oldest first (at most `FEEDBACK_DEDUPE`); absent until the first. */
  feedback?: Set<string>;
}

type Listener = (item: FanoutItem) => void;

const copy = cloneData;

/**
 * What a fan-out delivery hands the listeners: an entry item as it is (stored entries are frozen,
 * and so is the item), anything else a copy.
 */
const prepare = <T>(item: T): T => ((item as FanoutItem).kind === 'entry' && Object.isFrozen(item) ? item : copy(item));
const ownerOf = (siteKey: string, ownerKey: string): string => `${siteKey}\n${ownerKey}`;

/** The list order, oldest first: by createdAt, then by id (as SQLite orders them). */
function compareTo(stored: Stored, position: ListPosition): number {
  const { createdAt, id } = stored.conversation;
  return createdAt - position.createdAt || (id < position.key ? -1 : id > position.key ? 1 : 0);
}

const positionOf = (stored: Stored): ListPosition => ({ createdAt: stored.conversation.createdAt, key: stored.conversation.id });

/** The index of the first item of `sorted` at or after `position` (binary search). */
function lowerBound(sorted: readonly Stored[], position: ListPosition): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareTo(sorted[mid]!, position) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Everything in this process's memory: for tests and throwaway demos. Nothing survives a restart
 * and it cannot be shared by several relay instances. Every operation runs in one synchronous step,
 * which makes it atomic. Values are copied in and out, so no caller can change stored state; stored
 * log entries are frozen, so fan-out and the webhook queue share them rather than copy them.
 */
export class MemoryEngine implements Engine {
  readonly name = 'memory';
  private readonly clock: () => number;
  private readonly maxDeadLetters: number;
  private readonly emptyTtlMs: number;
  private readonly sweepIntervalMs: number;
  private readonly onListenerError: (error: unknown) => void;
  private readonly conversations = new Map<string, Stored>();
  /**
   * Each site's conversations in list order, oldest first. The clock mostly moves forward, so a new
   * conversation is appended; one created at an earlier time (a clock set back) is inserted in place.
   */
  private readonly bySite = new Map<string, Stored[]>();
  private readonly owners = new Map<string, string>();
  /** Every conversation of each owner (`ownerOf`), for `ownerConversations`. */
  private readonly owned = new Map<string, Set<Stored>>();
  private readonly online = new Map<string, boolean>();
  /** `<site>\0<visitor>` → the revocation mark and when it is forgotten. */
  private readonly revoked = new Map<string, { at: number; until: number }>();
  private readonly fanout: LocalFanout;
  private readonly webhooks = new WebhookQueue();
  private readonly dead = new Map<string, DeadLetter[]>();
  private ready = false;
  private sweeper: NodeJS.Timeout | undefined;
  /** Rate-limit buckets: one process serves the engine, so they live here. */
  private readonly buckets = new LocalBuckets();
  /** Slots held per key (`acquireSlot`): one process serves the engine, so counts live here. */
  private readonly slots = new LocalSlots();
  /** Conversations with open streams, for the stall listing. */
  private readonly streaming = new Set<Stored>();

  constructor(options: MemoryEngineOptions = {}) {
    this.clock = options.now ?? Date.now;
    this.maxDeadLetters = options.maxDeadLetters ?? 1000;
    this.emptyTtlMs = options.emptyConversationTtlMs ?? 24 * 3600_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.onListenerError = options.onListenerError ?? (() => {});
    this.fanout = new LocalFanout(this.onListenerError, prepare);
  }

  async start(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweeper.unref();
    this.ready = true;
  }

  isReady(): boolean {
    return this.ready;
  }

  async close(): Promise<void> {
    this.ready = false;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.fanout.clear();
  }

  now(): number {
    return this.clock();
  }

  // ---- conversations ----

  async openConversation(request: OpenRequest): Promise<OpenResult> {
    const existing = this.conversations.get(request.id);
    if (existing) return { conversation: copy(existing.conversation), created: false };
    const owner = ownerOf(request.siteKey, request.ownerKey);
    if (!request.replace) {
      const currentId = this.owners.get(owner);
      const current = currentId === undefined ? undefined : this.conversations.get(currentId);
      if (current && !current.conversation.closed) return { conversation: copy(current.conversation), created: false };
    }
    const now = this.now();
    const conversation: Conversation = {
      id: request.id,
      siteKey: request.siteKey,
      visitorId: request.visitorId,
      createdAt: now,
      started: false,
      closed: false,
      context: copy(request.context),
      readSeq: 0,
      peerReadSeq: 0,
      lastSeq: 0,
    };
    if (request.identity) conversation.identity = copy(request.identity);
    const log: Log = { entries: [], head: 0, ids: new Map(), recent: [], recentTs: [], recentHead: 0, recentBase: 0, maxAgeMs: null, lastActivityAt: now };
    const stored: Stored = { conversation, ownerKey: request.ownerKey, log };
    this.conversations.set(request.id, stored);
    this.addToSite(stored);
    this.owners.set(owner, request.id);
    this.own(stored, true);
    return { conversation: copy(conversation), created: true };
  }

  async getConversation(id: string): Promise<Conversation | null> {
    const stored = this.conversations.get(id);
    return stored ? copy(stored.conversation) : null;
  }

  async currentConversation(siteKey: string, ownerKey: string): Promise<string | null> {
    return this.owners.get(ownerOf(siteKey, ownerKey)) ?? null;
  }

  async mergeContext(id: string, patch: VisitorContext, maxBytes: number, quiet = false): Promise<MergeResult | null> {
    const stored = this.conversations.get(id);
    if (!stored) return null;
    const { conversation } = stored;
    const merged = mergeContextValue(conversation.context, patch, maxBytes);
    if (!merged.ok) return merged;
    conversation.context = copy(merged.context);
    if (conversation.started && !quiet) {
      const now = this.now();
      const eventId = newId('evt_');
      this.webhooks.enqueue([makeJob(conversation, eventId, 'context.updated', { context: conversation.context }, now)]);
    }
    return { ok: true, conversation: copy(conversation) };
  }

  async setIdentity(id: string, identity: ConversationIdentity): Promise<Conversation | null> {
    const stored = this.conversations.get(id);
    if (!stored) return null;
    stored.conversation.identity = copy(identity);
    return copy(stored.conversation);
  }

  async adoptConversation(request: AdoptRequest): Promise<AdoptResult> {
    const stored = this.conversations.get(request.id);
    if (!stored || stored.conversation.siteKey !== request.siteKey || stored.conversation.closed) return { status: 'refused' };
    if (stored.ownerKey === request.ownerKey) return { status: 'adopted', conversation: copy(stored.conversation) };
    if (stored.ownerKey !== request.fromOwnerKey) return { status: 'refused' };
    const owner = ownerOf(request.siteKey, request.ownerKey);
    const previousId = this.owners.get(owner);
    const previous = previousId === undefined ? undefined : this.conversations.get(previousId);
    const linkedId = previous && previous !== stored && !previous.conversation.closed ? previous.conversation.id : undefined;
    const from = ownerOf(request.siteKey, request.fromOwnerKey);
    if (this.owners.get(from) === request.id) this.owners.delete(from);
    this.owners.set(owner, request.id);
    this.own(stored, false);
    stored.ownerKey = request.ownerKey;
    this.own(stored, true);
    const { conversation } = stored;
    conversation.identity = copy(request.identity);
    if (conversation.started) {
      const jobId = identifiedJobId(conversation.id, request.ownerKey);
      this.webhooks.enqueue([makeJob(conversation, jobId, 'visitor.identified', linkedId ? { linkedConversationId: linkedId } : {}, this.now())]);
    }
    return { status: 'adopted', conversation: copy(conversation), ...(linkedId ? { linkedId } : {}) };
  }

  async setReadSeq(id: string, seq: number): Promise<number | null> {
    const stored = this.conversations.get(id);
    if (!stored) return null;
    stored.conversation.readSeq = Math.max(stored.conversation.readSeq, seq);
    return stored.conversation.readSeq;
  }

  async setPeerReadSeq(id: string, seq: number): Promise<number | null> {
    const stored = this.conversations.get(id);
    if (!stored) return null;
    stored.conversation.peerReadSeq = Math.max(stored.conversation.peerReadSeq, seq);
    return stored.conversation.peerReadSeq;
  }

  async listConversations(siteKey: string, page: ListRequest): Promise<ConversationPage> {
    const after = listPositionOf(page.cursor);
    const sorted = this.bySite.get(siteKey) ?? [];
    const end = after ? lowerBound(sorted, after) : sorted.length;
    const start = Math.max(0, end - pageLimit(page.limit));
    const conversations: Conversation[] = [];
    for (let i = end - 1; i >= start; i--) conversations.push(copy(sorted[i]!.conversation));
    return { conversations, nextCursor: start > 0 ? encodeListCursor(positionOf(sorted[start]!)) : null };
  }

  private addToSite(stored: Stored): void {
    const { siteKey } = stored.conversation;
    let sorted = this.bySite.get(siteKey);
    if (!sorted) this.bySite.set(siteKey, (sorted = []));
    const last = sorted[sorted.length - 1];
    if (!last || compareTo(stored, positionOf(last)) > 0) sorted.push(stored);
    else sorted.splice(lowerBound(sorted, positionOf(stored)), 0, stored);
  }

  async countConversations(): Promise<number> {
    return this.conversations.size;
  }

  async ownerConversations(siteKey: string, ownerKey: string, limit: number): Promise<OwnedConversation[]> {
    const all = [...(this.owned.get(ownerOf(siteKey, ownerKey)) ?? [])];
    // Newest first: the reverse of the site list's order.
    all.sort((a, b) => -compareTo(a, positionOf(b)));
    return all.slice(0, Math.max(0, limit)).map(({ conversation: c, log }) => {
      let last: OwnedConversation['last'] = null;
      for (let i = log.entries.length - 1; i >= Math.max(log.head, log.entries.length - PREVIEW_SCAN) && !last; i--) {
        const entry = log.entries[i]!;
        if (entry.kind === 'msg') last = copy(entry);
      }
      return { id: c.id, createdAt: c.createdAt, closed: c.closed, lastSeq: c.lastSeq, last };
    });
  }

  /** Add a conversation to its owner's set, or take it out. */
  private own(stored: Stored, add: boolean): void {
    const key = ownerOf(stored.conversation.siteKey, stored.ownerKey);
    let set = this.owned.get(key);
    if (add) {
      if (!set) this.owned.set(key, (set = new Set()));
      set.add(stored);
    } else if (set?.delete(stored) && !set.size) this.owned.delete(key);
  }

  // ---- log ----

  async append(request: AppendRequest): Promise<AppendResult | null> {
    const stored = this.conversations.get(request.conversationId);
    if (!stored) return null;
    return this.duplicateOf(stored, request.entry.id, request.retention) ?? this.write(stored, request);
  }

  /** The earlier append of `entryId` within the dedupe window, if any. */
  private duplicateOf(stored: Stored, entryId: string, retention: AppendRequest['retention']): Extract<AppendResult, { duplicate: true }> | null {
    const { conversation, log } = stored;
    const seq = log.ids.get(entryId);
    if (seq === undefined || seq <= conversation.lastSeq - dedupeWindow(retention)) return null;
    const kept = this.entryAt(log, seq);
    return { duplicate: true, entry: kept ? copy(kept) : null, seq, ts: log.recentTs[seq - log.recentBase]! };
  }

  /** Append a new entry (not a duplicate): seq, jobs, retention, fan-out. */
  private write(stored: Stored, request: AppendRequest): Extract<AppendResult, { duplicate: false }> {
    const { conversation, log } = stored;
    const window = dedupeWindow(request.retention);
    const now = this.now();
    const seq = conversation.lastSeq + 1;
    const entry = copy(request.entry) as LogEntry;
    entry.seq = seq;
    entry.ts = now;
    deepFreeze(entry);
    const jobs = appendJobs(conversation, request, entry, now);
    if (startsConversation(conversation, request)) conversation.started = true;
    if (closesConversation(entry)) conversation.closed = true;
    conversation.lastSeq = seq;
    log.entries.push(entry);
    log.ids.set(entry.id, seq);
    if (log.recent.length === 0) log.recentBase = seq;
    log.recent.push(entry.id);
    log.recentTs.push(now);
    this.forgetIds(log, seq - window);
    log.maxAgeMs = request.retention.maxAgeMs;
    log.lastActivityAt = now;
    this.trim(log, request.retention.maxMessages, now - request.retention.maxAgeMs);
    const queuedHead = this.webhooks.enqueue(jobs);

    this.fanout.deliver(Object.freeze({ kind: 'entry', conversationId: conversation.id, entry }));
    return { duplicate: false, entry: copy(entry), seq, ts: now, ...(jobs.length ? { queuedHead } : {}) };
  }

  async read(conversationId: string, afterSeq: number, limit: number): Promise<HistoryResponse> {
    const stored = this.conversations.get(conversationId);
    if (!stored) return { entries: [], lastSeq: 0, hasMore: false };
    const { log } = stored;
    const { lastSeq } = stored.conversation;
    const kept = log.entries.length - log.head;
    const firstSeq = log.entries[log.head]?.seq ?? lastSeq + 1;
    const start = Math.max(0, afterSeq + 1 - firstSeq);
    const end = Math.min(kept, start + Math.max(0, limit));
    const entries: LogEntry[] = [];
    for (let i = start; i < end; i++) entries.push(copy(log.entries[log.head + i]!));
    return { entries, lastSeq, hasMore: end < kept };
  }

  private entryAt(log: Log, seq: number): LogEntry | undefined {
    const firstSeq = log.entries[log.head]?.seq;
    return firstSeq === undefined || seq < firstSeq ? undefined : log.entries[log.head + seq - firstSeq];
  }

  /** Forget the ids of appends with seq ≤ `upTo`; compacts like `trim`. */
  private forgetIds(log: Log, upTo: number): void {
    const { recent, recentTs } = log;
    for (; log.recentHead < recent.length && log.recentBase + log.recentHead <= upTo; log.recentHead++) {
      const id = recent[log.recentHead]!;
      if (log.ids.get(id) === log.recentBase + log.recentHead) log.ids.delete(id);
      recent[log.recentHead] = undefined;
    }
    if (log.recentHead === recent.length) {
      recent.length = 0;
      recentTs.length = 0;
      log.recentHead = 0;
    } else if (log.recentHead >= 32 && log.recentHead * 4 >= recent.length) {
      recent.splice(0, log.recentHead);
      recentTs.splice(0, log.recentHead);
      log.recentBase += log.recentHead;
      log.recentHead = 0;
    }
  }

  /**
   * Drop the oldest entries beyond `maxMessages` and those older than `cutoff`. Dropping moves a
   * start offset; the array is compacted once a quarter of it is spent slots, so a full log costs
   * O(1) amortised per append.
   */
  private trim(log: Log, maxMessages: number, cutoff: number): void {
    const { entries } = log;
    const end = entries.length;
    let head = Math.max(log.head, end - maxMessages);
    while (head < end && entries[head]!.ts < cutoff) head++;
    if (head === log.head) return;
    for (let i = log.head; i < head; i++) entries[i] = undefined;
    log.head = head;
    if (head === end) {
      entries.length = 0;
      log.head = 0;
    } else if (head >= 32 && head * 4 >= end) {
      entries.splice(0, head);
      log.head = 0;
    }
  }

  /**
   * Drop expired entries, and forget conversations with an empty log that have been inactive longer
   * than their log's maxAge (or, never appended to, than `emptyConversationTtlMs`), with their owner
   * mapping.
   */
  sweep(now: number = this.now()): void {
    this.buckets.sweep(now);
    const thinned = new Set<string>();
    for (const [id, stored] of this.conversations) {
      const { conversation, ownerKey, log } = stored;
      const maxAge = log.maxAgeMs ?? this.emptyTtlMs;
      if (log.maxAgeMs !== null) this.trim(log, Infinity, now - log.maxAgeMs);
      if (log.entries.length > log.head || log.lastActivityAt >= now - maxAge) continue;
      this.conversations.delete(id);
      this.streaming.delete(stored);
      this.own(stored, false);
      thinned.add(conversation.siteKey);
      const owner = ownerOf(conversation.siteKey, ownerKey);
      if (this.owners.get(owner) === id) this.owners.delete(owner);
    }
    // One pass per site that lost conversations, rather than a splice per conversation.
    for (const siteKey of thinned) {
      const kept = this.bySite.get(siteKey)!.filter((s) => this.conversations.get(s.conversation.id) === s);
      if (kept.length) this.bySite.set(siteKey, kept);
      else this.bySite.delete(siteKey);
    }
  }

  // ---- streamed answers ----

  async startStream(request: StreamStartRequest): Promise<StreamStartResult | null> {
    const stored = this.conversations.get(request.conversationId);
    if (!stored) return null;
    const done = this.duplicateOf(stored, request.id, request.retention);
    if (done) return { status: 'ended', entry: done.entry, seq: done.seq, ts: done.ts };
    const now = this.now();
    const open = stored.streams?.get(request.id);
    if (open) {
      open.updatedAt = now;
      return { status: 'open', created: false, stream: this.snapshot(stored, open) };
    }
    const stream: OpenStream = { id: request.id, from: copy(request.from), text: '', startedAt: now, updatedAt: now };
    (stored.streams ??= new Map()).set(request.id, stream);
    this.streaming.add(stored);
    this.fanout.deliver({ kind: 'draft', conversationId: stored.conversation.id, draft: { id: stream.id, ts: now, from: stream.from, offset: 0, text: '' } });
    return { status: 'open', created: true, stream: this.snapshot(stored, stream) };
  }

  async appendStream(request: StreamDeltaRequest): Promise<StreamDeltaResult | null> {
    const stored = this.conversations.get(request.conversationId);
    if (!stored) return null;
    if (this.duplicateOf(stored, request.id, request.retention)) return { status: 'ended' };
    const stream = stored.streams?.get(request.id);
    if (!stream) return { status: 'not-found' };
    const now = this.now();
    stream.updatedAt = now;
    const held = stream.text.length;
    const part = deltaPart(held, request.offset, request.text);
    if (part === null) return { status: 'gap', length: held };
    if (!part) return { status: 'ok', length: held, appended: false };
    if (held + part.length > MAX_STREAM_LENGTH) return { status: 'too-long', length: held };
    stream.text += part;
    this.fanout.deliver({ kind: 'draft', conversationId: stored.conversation.id, draft: { id: stream.id, ts: now, from: stream.from, offset: held, text: part } });
    return { status: 'ok', length: stream.text.length, appended: true };
  }

  async openStreams(conversationId: string): Promise<StreamSnapshot[]> {
    const stored = this.conversations.get(conversationId);
    return stored?.streams ? [...stored.streams.values()].map((stream) => this.snapshot(stored, stream)) : [];
  }

  async stalledStreams(stallMs: number, limit: number): Promise<StreamRef[]> {
    const cutoff = this.now() - stallMs;
    const stalled: { ref: StreamRef; at: number }[] = [];
    for (const stored of this.streaming) {
      for (const stream of stored.streams!.values()) {
        if (stream.updatedAt <= cutoff) stalled.push({ ref: { conversationId: stored.conversation.id, id: stream.id }, at: stream.updatedAt });
      }
    }
    return stalled
      .sort((a, b) => a.at - b.at)
      .slice(0, Math.max(0, limit))
      .map((s) => s.ref);
  }

  async endStream(request: StreamEndRequest): Promise<StreamEndResult | null> {
    const stored = this.conversations.get(request.conversationId);
    if (!stored) return null;
    const stream = stored.streams?.get(request.id);
    const done = this.duplicateOf(stored, request.id, request.retention);
    if (done) {
      if (stream) this.dropStream(stored, request.id);
      return { status: 'ended', duplicate: true, entry: done.entry, seq: done.seq, ts: done.ts };
    }
    if (!stream) return { status: 'not-found' };
    if (request.stalledMs !== undefined && stream.updatedAt > this.now() - request.stalledMs) return { status: 'active' };
    const entry: NewEntry | null = streamEntry(request, stream.from, stream.text);
    if (!entry) return { status: 'empty' };
    this.dropStream(stored, request.id);
    const result = this.write(stored, { conversationId: request.conversationId, entry, retention: request.retention });
    return { status: 'ended', duplicate: false, entry: result.entry, seq: result.seq, ts: result.ts };
  }

  private snapshot(stored: Stored, stream: OpenStream): StreamSnapshot {
    return { conversationId: stored.conversation.id, id: stream.id, from: copy(stream.from), text: stream.text, startedAt: stream.startedAt, updatedAt: stream.updatedAt };
  }

  private dropStream(stored: Stored, id: string): void {
    stored.streams?.delete(id);
    if (!stored.streams?.size) this.streaming.delete(stored);
  }

  // ---- feedback ----

  async enqueueFeedback(request: FeedbackRequest): Promise<FeedbackResult | null> {
    const stored = this.conversations.get(request.conversationId);
    if (!stored) return null;
    const jobId = webhookJobId(request.conversationId, request.id, 'message.feedback');
    if (stored.feedback?.has(jobId)) return 'duplicate';
    const target = this.duplicateOf(stored, request.messageId, request.retention)?.entry;
    if (!target || target.kind !== 'msg' || target.from.role !== 'bot') return 'not-found';
    const seen = (stored.feedback ??= new Set());
    seen.add(jobId);
    if (seen.size > FEEDBACK_DEDUPE) seen.delete(seen.values().next().value!);
    const data = { messageId: request.messageId, value: request.value, ...(request.comment !== undefined ? { comment: request.comment } : {}) };
    this.webhooks.enqueue([makeJob(stored.conversation, jobId, 'message.feedback', data, this.now())]);
    return 'queued';
  }

  // ---- fan-out ----

  async publish(item: TransientItem): Promise<void> {
    this.fanout.deliver(item);
  }

  async subscribe(topic: string, listener: Listener): Promise<() => void> {
    return this.fanout.subscribe(topic, listener);
  }

  subscribeAll(listener: (item: FanoutItem) => void): () => void {
    return this.fanout.subscribeAll(listener);
  }

  // ---- site state ----

  async takeToken(key: string, rate: Rate): Promise<boolean> {
    return this.buckets.take(key, rate, this.now());
  }

  async acquireSlot(key: string, cap: number): Promise<boolean> {
    return this.slots.acquire(key, cap);
  }

  async releaseSlot(key: string): Promise<void> {
    this.slots.release(key);
  }

  async getOnline(siteKey: string): Promise<boolean | null> {
    return this.online.get(siteKey) ?? null;
  }

  async setOnline(siteKey: string, online: boolean): Promise<void> {
    this.online.set(siteKey, online);
  }

  async revokeVisitor(siteKey: string, visitorId: string, at: number, keepMs: number): Promise<void> {
    const key = `${siteKey}\0${visitorId}`;
    const held = this.revoked.get(key);
    this.revoked.set(key, { at: Math.max(at, held?.at ?? 0), until: Math.max(this.now() + keepMs, held?.until ?? 0) });
    // Marks past their keep time are dropped as new ones come.
    if (this.revoked.size % 1024 === 0) for (const [k, v] of this.revoked) if (v.until <= this.now()) this.revoked.delete(k);
  }

  async visitorRevokedAt(siteKey: string, visitorId: string): Promise<number | null> {
    const held = this.revoked.get(`${siteKey}\0${visitorId}`);
    return held && held.until > this.now() ? held.at : null;
  }

  // ---- webhook queue ----

  async claimWebhooks(max: number, leaseMs: number): Promise<ClaimedJob[]> {
    return this.webhooks.claim(this.now(), max, leaseMs);
  }

  async nextWebhookAt(): Promise<number | null> {
    return this.webhooks.nextAt();
  }

  async completeWebhook(id: string, lease: string): Promise<boolean> {
    return this.webhooks.take(id, lease) !== null;
  }

  async retryWebhook(id: string, lease: string, delayMs: number, error: JobError): Promise<boolean> {
    return this.webhooks.retry(id, lease, this.now() + delayMs, error);
  }

  async deadLetter(id: string, lease: string, error: JobError): Promise<boolean> {
    const job = this.webhooks.take(id, lease);
    if (!job) return false;
    const list = this.dead.get(job.siteKey) ?? [];
    list.push({
      event: job.event,
      attempts: job.attempts,
      firstAttemptAt: job.firstAttemptAt ?? job.enqueuedAt,
      lastAttemptAt: job.lastAttemptAt ?? job.enqueuedAt,
      lastError: { ...error },
    });
    if (list.length > this.maxDeadLetters) list.splice(0, list.length - this.maxDeadLetters);
    this.dead.set(job.siteKey, list);
    return true;
  }

  async listDeadLetters(siteKey: string): Promise<DeadLetter[]> {
    return copy(this.dead.get(siteKey) ?? []);
  }
}

/** An engine in this process's memory (tests, demos). */
export function createMemoryEngine(options?: MemoryEngineOptions): MemoryEngine {
  return new MemoryEngine(options);
}
