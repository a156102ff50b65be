import type { DeadLetter, HistoryResponse, LogEntry } from '@parley/protocol';
import type {
  AppendResult,
  Conversation,
  ConversationPatch,
  Engine,
  FanoutItem,
  NewEntry,
  Retention,
  WebhookJob,
} from './types.js';
import { WebhookQueue } from './webhook-queue.js';

export interface MemoryEngineOptions {
  /** Clock (ms). */
  now?: () => number;
  /** Dead letters kept per site (oldest go first). Default 1000. */
  maxDeadLetters?: number;
  /** Conversations with an empty log are forgotten after this long. Default 24 h. */
  emptyConversationTtlMs?: number;
  /** How often old entries and idle conversations are swept. Default 60 s. */
  sweepIntervalMs?: number;
}

interface Log {
  /** Kept entries are `entries[head..]`; the slots before `head` were trimmed and await compaction. */
  entries: LogEntry[];
  head: number;
  /** id → entry, for idempotent appends. */
  byId: Map<string, LogEntry>;
  lastSeq: number;
  maxAgeMs: number;
  lastActivityAt: number;
}

interface Owned {
  conversation: Conversation;
  ownerKey: string;
}

/**
 * The default engine: everything in this process's memory. Nothing survives a restart
 * and it cannot be shared by several relay instances.
 */
export class MemoryEngine implements Engine {
  readonly name = 'memory';
  private readonly now: () => number;
  private readonly maxDeadLetters: number;
  private readonly emptyTtlMs: number;
  private readonly sweepIntervalMs: number;
  private readonly conversations = new Map<string, Owned>();
  private readonly owners = new Map<string, string>();
  private readonly logs = new Map<string, Log>();
  private readonly online = new Map<string, boolean>();
  private readonly listeners = new Set<(item: FanoutItem) => void>();
  private readonly webhooks = new WebhookQueue();
  private readonly dead = new Map<string, DeadLetter[]>();
  private ready = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(options: MemoryEngineOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxDeadLetters = options.maxDeadLetters ?? 1000;
    this.emptyTtlMs = options.emptyConversationTtlMs ?? 24 * 3600_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  async start(): Promise<void> {
    this.ready = true;
    this.sweeper = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.sweeper.unref();
  }

  isReady(): boolean {
    return this.ready;
  }

  async close(): Promise<void> {
    this.ready = false;
    if (this.sweeper) clearInterval(this.sweeper);
    this.listeners.clear();
  }

  // ---- conversations ----

  async createConversation(conversation: Conversation, ownerKey: string): Promise<void> {
    this.conversations.set(conversation.id, { conversation: { ...conversation }, ownerKey });
    this.owners.set(`${conversation.siteKey}\n${ownerKey}`, conversation.id);
  }

  async getConversation(id: string): Promise<Conversation | null> {
    const owned = this.conversations.get(id);
    return owned ? { ...owned.conversation } : null;
  }

  async currentConversation(siteKey: string, ownerKey: string): Promise<string | null> {
    return this.owners.get(`${siteKey}\n${ownerKey}`) ?? null;
  }

  async updateConversation(id: string, patch: ConversationPatch): Promise<Conversation | null> {
    const owned = this.conversations.get(id);
    if (!owned) return null;
    Object.assign(owned.conversation, patch);
    return { ...owned.conversation };
  }

  async markStarted(id: string): Promise<boolean> {
    const owned = this.conversations.get(id);
    if (!owned || owned.conversation.started) return false;
    owned.conversation.started = true;
    return true;
  }

  async listConversations(siteKey: string, limit: number): Promise<Conversation[]> {
    const out: Conversation[] = [];
    for (const { conversation } of this.conversations.values()) if (conversation.siteKey === siteKey) out.push({ ...conversation });
    out.sort((a, b) => b.createdAt - a.createdAt);
    return out.slice(0, limit);
  }

  // ---- log ----

  async append(conversationId: string, entry: NewEntry, retention: Retention): Promise<AppendResult> {
    let log = this.logs.get(conversationId);
    if (!log) {
      log = { entries: [], head: 0, byId: new Map(), lastSeq: 0, maxAgeMs: retention.maxAgeMs, lastActivityAt: 0 };
      this.logs.set(conversationId, log);
    }
    const existing = log.byId.get(entry.id);
    if (existing) return { entry: existing, duplicate: true };
    const stored = { ...entry, seq: ++log.lastSeq } as LogEntry;
    log.entries.push(stored);
    log.byId.set(stored.id, stored);
    log.maxAgeMs = retention.maxAgeMs;
    log.lastActivityAt = this.now();
    this.trim(log, retention.maxMessages, log.lastActivityAt - retention.maxAgeMs);
    return { entry: stored, duplicate: false };
  }

  async read(conversationId: string, afterSeq: number, limit: number): Promise<HistoryResponse> {
    const log = this.logs.get(conversationId);
    if (!log || afterSeq >= log.lastSeq) return { entries: [], lastSeq: log?.lastSeq ?? 0, hasMore: false };
    const { entries, head } = log;
    const kept = entries.length - head;
    // Seqs are contiguous from the first kept entry, so the start index is arithmetic.
    const first = entries[head]?.seq ?? log.lastSeq + 1;
    const start = Math.max(0, afterSeq + 1 - first);
    const page = entries.slice(head + start, head + start + limit);
    return { entries: page, lastSeq: log.lastSeq, hasMore: start + limit < kept };
  }

  /**
   * Drop the oldest entries beyond `maxMessages` and those older than `cutoff`. Dropping moves
   * a start offset; the array is compacted once a quarter of it is dropped slots, so a full log
   * costs O(1) amortised per append instead of a shift of the whole array.
   */
  private trim(log: Log, maxMessages: number, cutoff: number): void {
    const { entries } = log;
    const end = entries.length;
    let head = Math.max(log.head, end - maxMessages);
    while (head < end && entries[head]!.ts < cutoff) head++;
    if (head === log.head) return;
    for (let i = log.head; i < head; i++) log.byId.delete(entries[i]!.id);
    log.head = head;
    if (head === end) {
      entries.length = 0;
      log.head = 0;
    } else if (head >= 32 && head * 4 >= end) {
      entries.splice(0, head);
      log.head = 0;
    }
  }

  /** Drop expired entries and forget idle conversations. */
  sweep(now: number = this.now()): void {
    for (const [id, log] of this.logs) {
      this.trim(log, Infinity, now - log.maxAgeMs);
      if (log.entries.length === 0 && log.lastActivityAt < now - log.maxAgeMs) this.forget(id);
    }
    for (const [id, { conversation }] of this.conversations) {
      if (!this.logs.has(id) && conversation.createdAt < now - this.emptyTtlMs) this.forget(id);
    }
  }

  private forget(id: string): void {
    const owned = this.conversations.get(id);
    this.logs.delete(id);
    this.conversations.delete(id);
    if (!owned) return;
    const key = `${owned.conversation.siteKey}\n${owned.ownerKey}`;
    if (this.owners.get(key) === id) this.owners.delete(key);
  }

  // ---- fan-out ----

  async publish(item: FanoutItem): Promise<void> {
    for (const listener of this.listeners) listener(item);
  }

  subscribe(listener: (item: FanoutItem) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- site state ----

  async getOnline(siteKey: string): Promise<boolean | null> {
    return this.online.get(siteKey) ?? null;
  }

  async setOnline(siteKey: string, online: boolean): Promise<void> {
    this.online.set(siteKey, online);
  }

  // ---- webhook queue ----

  async enqueueWebhooks(jobs: WebhookJob[]): Promise<void> {
    this.webhooks.enqueue(jobs);
  }

  async claimWebhooks(now: number, max: number, leaseMs: number): Promise<WebhookJob[]> {
    return this.webhooks.claim(now, max, leaseMs);
  }

  async nextWebhookAt(): Promise<number | null> {
    return this.webhooks.nextAt();
  }

  async completeWebhook(id: string): Promise<void> {
    this.webhooks.remove(id);
  }

  async retryWebhook(job: WebhookJob): Promise<void> {
    // To the end of the queue: a failing job does not hold back the jobs queued after it.
    this.webhooks.retry(job);
  }

  async deadLetter(job: WebhookJob): Promise<void> {
    this.webhooks.remove(job.id);
    const list = this.dead.get(job.siteKey) ?? [];
    list.push({
      event: job.event,
      attempts: job.attempts,
      firstAttemptAt: job.firstAttemptAt ?? job.enqueuedAt,
      lastAttemptAt: job.lastAttemptAt ?? job.enqueuedAt,
      lastError: job.lastError ?? { code: 'WEBHOOK_FAILED', message: 'The backend did not accept the webhook.' },
    });
    if (list.length > this.maxDeadLetters) list.splice(0, list.length - this.maxDeadLetters);
    this.dead.set(job.siteKey, list);
  }

  async listDeadLetters(siteKey: string): Promise<DeadLetter[]> {
    return [...(this.dead.get(siteKey) ?? [])];
  }
}

/** The default engine. */
export function createMemoryEngine(options?: MemoryEngineOptions): MemoryEngine {
  return new MemoryEngine(options);
}
