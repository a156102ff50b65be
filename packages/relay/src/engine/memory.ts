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
  entries: LogEntry[];
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
  /** Pending jobs in enqueue order. */
  private readonly queue = new Map<string, WebhookJob>();
  /** Leased job id → lease expiry. */
  private readonly leases = new Map<string, number>();
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
      log = { entries: [], byId: new Map(), lastSeq: 0, maxAgeMs: retention.maxAgeMs, lastActivityAt: 0 };
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
    const { entries } = log;
    // Seqs are contiguous from the first kept entry, so the start index is arithmetic.
    const first = entries[0]?.seq ?? log.lastSeq + 1;
    const start = Math.max(0, afterSeq + 1 - first);
    const page = entries.slice(start, start + limit);
    return { entries: page, lastSeq: log.lastSeq, hasMore: start + limit < entries.length };
  }

  private trim(log: Log, maxMessages: number, cutoff: number): void {
    let drop = Math.max(0, log.entries.length - maxMessages);
    while (drop < log.entries.length && log.entries[drop]!.ts < cutoff) drop++;
    if (drop === 0) return;
    for (const old of log.entries.splice(0, drop)) log.byId.delete(old.id);
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
    for (const job of jobs) if (!this.queue.has(job.id)) this.queue.set(job.id, { ...job });
  }

  async claimWebhooks(now: number, max: number, leaseMs: number): Promise<WebhookJob[]> {
    const busy = new Set<string>();
    for (const [id, until] of this.leases) {
      if (until <= now) this.leases.delete(id);
      else busy.add(this.queue.get(id)?.conversationId ?? '');
    }
    const out: WebhookJob[] = [];
    for (const job of this.queue.values()) {
      if (out.length >= max) break;
      if (this.leases.has(job.id) || busy.has(job.conversationId)) continue;
      // Order within a conversation: a later job waits while an earlier one is in flight or due.
      if (job.dueAt > now) continue;
      busy.add(job.conversationId);
      this.leases.set(job.id, now + leaseMs);
      out.push({ ...job });
    }
    return out;
  }

  async nextWebhookAt(): Promise<number | null> {
    let next: number | null = null;
    for (const job of this.queue.values()) {
      const at = this.leases.has(job.id) ? this.leases.get(job.id)! : job.dueAt;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  async completeWebhook(id: string): Promise<void> {
    this.queue.delete(id);
    this.leases.delete(id);
  }

  async retryWebhook(job: WebhookJob): Promise<void> {
    if (!this.queue.has(job.id)) return;
    // Re-insert at the end: a failing job does not hold back the jobs queued after it.
    this.queue.delete(job.id);
    this.queue.set(job.id, { ...job });
    this.leases.delete(job.id);
  }

  async deadLetter(job: WebhookJob): Promise<void> {
    this.queue.delete(job.id);
    this.leases.delete(job.id);
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
