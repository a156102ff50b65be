import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { DeadLetter, HistoryResponse, LogEntry, Sender, VisitorContext, WebhookEvent } from '@parley/protocol';
import { newId } from '../ids.js';
import { LocalBuckets } from '../token-bucket.js';
import { LocalFanout, LocalSlots } from './in-process.js';
import {
  MAX_STREAM_LENGTH,
  appendJobs,
  closesConversation,
  deltaPart,
  encodeListCursor,
  listPositionOf,
  identifiedJobId,
  makeJob,
  mergeContextValue,
  pageLimit,
  startsConversation,
  streamEntry,
  webhookJobId,
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
  type DraftItem,
  type FanoutItem,
  type FeedbackRequest,
  type FeedbackResult,
  type JobError,
  type ListRequest,
  type MergeResult,
  type MessageEntry,
  type OpenRequest,
  type OpenResult,
  type OwnedConversation,
  type Rate,
  type Retention,
  type StreamDeltaRequest,
  type StreamDeltaResult,
  type StreamEndRequest,
  type StreamEndResult,
  type StreamRef,
  type StreamSnapshot,
  type StreamStartRequest,
  type StreamStartResult,
  type TransientItem,
  type WebhookJob,
} from './types.js';

export interface SqliteEngineOptions {
  /** The database file. Its parent directories are created. */
  path: string;
  /**
   * `FULL` (default): a commit is on disk before the promise resolves, so an acked message
   * survives power loss. `NORMAL`: faster; survives a crash of the process, but the last commits
   * may be lost on power loss.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** Clock (ms). Default `Date.now`. */
  now?: () => number;
  /** Dead letters kept per site (the oldest go first). Default 1000. */
  maxDeadLetters?: number;
  /** How long a write waits for a lock held by another connection before failing with SQLITE_BUSY. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** How often expired entries and idle conversations are swept. Default 60 s. */
  sweepIntervalMs?: number;
  /** A conversation that never got an entry is forgotten this long after it was opened. Default 24 h. */
  emptyConversationTtlMs?: number;
  /** Called with what a fan-out listener threw; delivery to the other listeners goes on. Default: ignored. */
  onListenerError?: (error: unknown) => void;
}

/** The schema version this code writes (`PRAGMA user_version`); bump it with a migration step. */
const SCHEMA_VERSION = 6;

/**
 * No foreign keys: every delete is explicit, and jobs and dead letters deliberately outlive the
 * conversation they came from (a forgotten conversation's queued events are still delivered).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY,
  site_key TEXT NOT NULL,
  owner_key TEXT NOT NULL,
  visitor_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started INTEGER NOT NULL DEFAULT 0,
  closed INTEGER NOT NULL DEFAULT 0,
  context TEXT NOT NULL,
  identity TEXT,
  read_seq INTEGER NOT NULL DEFAULT 0,
  peer_read_seq INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_activity_at INTEGER NOT NULL,
  -- retention of the last append; null until the first one
  max_age_ms INTEGER,
  -- when the sweep must look at it next: its oldest entry expires, or it may be forgotten
  sweep_at INTEGER NOT NULL
);
-- A page of a site's list is one range scan of this index, whatever the site holds.
CREATE INDEX IF NOT EXISTS conversations_site_page ON conversations (site_key, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS conversations_sweep ON conversations (sweep_at);
-- An owner's conversations, newest first (ownerConversations): one range scan.
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (site_key, owner_key, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS owners (
  site_key TEXT NOT NULL,
  owner_key TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  PRIMARY KEY (site_key, owner_key)
) WITHOUT ROWID;

-- Entries are addressed by seq only: the dedupe index is \`ids\`, which outlives trimmed entries.
CREATE TABLE IF NOT EXISTS entries (
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;

-- The ids of each conversation's last dedupeWindow(retention) appends.
CREATE TABLE IF NOT EXISTS ids (
  conversation_id TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ids_seq ON ids (conversation_id, seq);

-- pos is the global queue order (the rowid: a new job gets one above every live job). head = 1
-- marks the first job of its conversation, the only one claimable; available_at is when that head
-- can be claimed (lease_until while leased, else due_at).
CREATE TABLE IF NOT EXISTS jobs (
  pos INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL,
  site_key TEXT NOT NULL,
  event TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  enqueued_at INTEGER NOT NULL,
  first_attempt_at INTEGER,
  last_attempt_at INTEGER,
  due_at INTEGER NOT NULL,
  last_error TEXT,
  lease TEXT,
  lease_until INTEGER,
  head INTEGER NOT NULL,
  available_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_conversation ON jobs (conversation_id, pos);
CREATE INDEX IF NOT EXISTS jobs_heads ON jobs (available_at) WHERE head = 1;

CREATE TABLE IF NOT EXISTS dead_letters (
  pos INTEGER PRIMARY KEY,
  site_key TEXT NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_site ON dead_letters (site_key, pos);

CREATE TABLE IF NOT EXISTS online (
  site_key TEXT PRIMARY KEY,
  online INTEGER NOT NULL
) WITHOUT ROWID;

-- Streamed answers being written. Ephemeral: a finished or aborted one leaves for the log.
CREATE TABLE IF NOT EXISTS streams (
  conversation_id TEXT NOT NULL,
  id TEXT NOT NULL,
  sender TEXT NOT NULL,
  text TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS streams_stalled ON streams (updated_at);

-- The ids of each conversation's last FEEDBACK_DEDUPE feedbacks (their job ids), for dedupe.
CREATE TABLE IF NOT EXISTS feedback (
  pos INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL,
  id TEXT NOT NULL,
  UNIQUE (conversation_id, id)
);
CREATE INDEX IF NOT EXISTS feedback_conversation ON feedback (conversation_id, pos);

CREATE TABLE IF NOT EXISTS revoked_visitors (
  site_key TEXT NOT NULL,
  visitor_id TEXT NOT NULL,
  revoked_at INTEGER NOT NULL,
  keep_until INTEGER NOT NULL,
  PRIMARY KEY (site_key, visitor_id)
) WITHOUT ROWID;
`;

interface ConversationRow {
  id: string;
  site_key: string;
  owner_key: string;
  visitor_id: string;
  created_at: number;
  started: number;
  closed: number;
  context: string;
  identity: string | null;
  read_seq: number;
  peer_read_seq: number;
  last_seq: number;
  last_activity_at: number;
  max_age_ms: number | null;
  sweep_at: number;
}

interface StreamRow {
  conversation_id: string;
  id: string;
  sender: string;
  text: string;
  started_at: number;
  updated_at: number;
}

interface JobRow {
  pos: number;
  id: string;
  conversation_id: string;
  site_key: string;
  event: string;
  attempts: number;
  enqueued_at: number;
  first_attempt_at: number | null;
  last_attempt_at: number | null;
  due_at: number;
  last_error: string | null;
  lease: string | null;
  lease_until: number | null;
}

/** Conversations the sweep handles per transaction, so a big sweep does not hold the event loop for long. */
const SWEEP_BATCH = 256;

function prepareStatements(db: Database.Database) {
  return {
    getConversation: db.prepare<[string], ConversationRow>('SELECT * FROM conversations WHERE id = ?'),
    insertConversation: db.prepare<[string, string, string, string, number, string, string | null, number, number]>(
      `INSERT INTO conversations (id, site_key, owner_key, visitor_id, created_at, context, identity, last_activity_at, sweep_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getOwner: db.prepare<[string, string], string>('SELECT conversation_id FROM owners WHERE site_key = ? AND owner_key = ?').pluck(),
    setOwner: db.prepare<[string, string, string]>('INSERT OR REPLACE INTO owners (site_key, owner_key, conversation_id) VALUES (?, ?, ?)'),
    setContext: db.prepare<[string, string]>('UPDATE conversations SET context = ? WHERE id = ?'),
    setIdentity: db.prepare<[string, string]>('UPDATE conversations SET identity = ? WHERE id = ?'),
    setOwnerKey: db.prepare<[string, string, string]>('UPDATE conversations SET owner_key = ?, identity = ? WHERE id = ?'),
    raiseReadSeq: db.prepare<[number, string], number>('UPDATE conversations SET read_seq = MAX(read_seq, ?) WHERE id = ? RETURNING read_seq').pluck(),
    raisePeerReadSeq: db.prepare<[number, string], number>('UPDATE conversations SET peer_read_seq = MAX(peer_read_seq, ?) WHERE id = ? RETURNING peer_read_seq').pluck(),
    listNewest: db.prepare<[string, number], ConversationRow>('SELECT * FROM conversations WHERE site_key = ? ORDER BY created_at DESC, id DESC LIMIT ?'),
    // Keyset paging: strictly after (createdAt, id) in list order, a range of `conversations_site_page`.
    listAfter: db.prepare<{ site: string; at: number; id: string; limit: number }, ConversationRow>(
      `SELECT * FROM conversations WHERE site_key = @site AND (created_at, id) < (@at, @id)
       ORDER BY created_at DESC, id DESC LIMIT @limit`,
    ),
    countConversations: db.prepare<[], number>('SELECT COUNT(*) FROM conversations').pluck(),
    listOwned: db.prepare<[string, string, number], ConversationRow>(
      'SELECT * FROM conversations WHERE site_key = ? AND owner_key = ? ORDER BY created_at DESC, id DESC LIMIT ?',
    ),
    // The newest message among the last `scan` entries.
    lastMessage: db
      .prepare<[string, number], string>(
        `SELECT json FROM (SELECT seq, json FROM entries WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?)
         WHERE json_extract(json, '$.kind') = 'msg' ORDER BY seq DESC LIMIT 1`,
      )
      .pluck(),
    afterAppend: db.prepare<{ id: string; lastSeq: number; now: number; maxAgeMs: number; started: number; closed: number }>(
      `UPDATE conversations SET last_seq = @lastSeq, last_activity_at = @now, max_age_ms = @maxAgeMs,
         started = MAX(started, @started), closed = MAX(closed, @closed),
         sweep_at = COALESCE((SELECT ts FROM entries WHERE conversation_id = @id ORDER BY seq LIMIT 1), @now) + @maxAgeMs
       WHERE id = @id`,
    ),

    findId: db.prepare<[string, string, number], { seq: number; ts: number }>('SELECT seq, ts FROM ids WHERE conversation_id = ? AND id = ? AND seq > ?'),
    putId: db.prepare<[string, string, number, number]>('INSERT OR REPLACE INTO ids (conversation_id, id, seq, ts) VALUES (?, ?, ?, ?)'),
    pruneIds: db.prepare<[string, number]>('DELETE FROM ids WHERE conversation_id = ? AND seq <= ?'),
    insertEntry: db.prepare<[string, number, number, string]>('INSERT INTO entries (conversation_id, seq, ts, json) VALUES (?, ?, ?, ?)'),
    getEntry: db.prepare<[string, number], string>('SELECT json FROM entries WHERE conversation_id = ? AND seq = ?').pluck(),
    trimCount: db.prepare<[string, number]>('DELETE FROM entries WHERE conversation_id = ? AND seq <= ?'),
    // Walks from the oldest entry to the first one still young: costs the entries it drops, plus one.
    trimAge: db.prepare<{ id: string; cutoff: number; end: number }>(
      `DELETE FROM entries WHERE conversation_id = @id
         AND seq < COALESCE((SELECT seq FROM entries WHERE conversation_id = @id AND ts >= @cutoff ORDER BY seq LIMIT 1), @end)`,
    ),
    oldestTs: db.prepare<[string], number>('SELECT ts FROM entries WHERE conversation_id = ? ORDER BY seq LIMIT 1').pluck(),
    readEntries: db.prepare<[string, number, number], string>('SELECT json FROM entries WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?').pluck(),
    lastSeq: db.prepare<[string], number>('SELECT last_seq FROM conversations WHERE id = ?').pluck(),

    getStream: db.prepare<[string, string], StreamRow>('SELECT * FROM streams WHERE conversation_id = ? AND id = ?'),
    insertStream: db.prepare<{ cid: string; id: string; sender: string; now: number }>(
      "INSERT INTO streams (conversation_id, id, sender, text, started_at, updated_at) VALUES (@cid, @id, @sender, '', @now, @now)",
    ),
    touchStream: db.prepare<[number, string, string]>('UPDATE streams SET updated_at = ? WHERE conversation_id = ? AND id = ?'),
    setStreamText: db.prepare<[string, number, string, string]>('UPDATE streams SET text = ?, updated_at = ? WHERE conversation_id = ? AND id = ?'),
    deleteStream: db.prepare<[string, string]>('DELETE FROM streams WHERE conversation_id = ? AND id = ?'),
    openStreams: db.prepare<[string], StreamRow>('SELECT * FROM streams WHERE conversation_id = ? ORDER BY started_at, id'),
    stalledStreams: db.prepare<[number, number], { conversation_id: string; id: string }>(
      'SELECT conversation_id, id FROM streams WHERE updated_at <= ? ORDER BY updated_at LIMIT ?',
    ),
    deleteStreams: db.prepare<[string]>('DELETE FROM streams WHERE conversation_id = ?'),

    hasFeedback: db.prepare<[string, string], number>('SELECT 1 FROM feedback WHERE conversation_id = ? AND id = ?').pluck(),
    insertFeedback: db.prepare<[string, string]>('INSERT INTO feedback (conversation_id, id) VALUES (?, ?)'),
    // The pos of the newest feedback id beyond the cap, if any: it and all older ones go.
    feedbackCutoff: db.prepare<[string, number], number>('SELECT pos FROM feedback WHERE conversation_id = ? ORDER BY pos DESC LIMIT 1 OFFSET ?').pluck(),
    trimFeedback: db.prepare<[string, number]>('DELETE FROM feedback WHERE conversation_id = ? AND pos <= ?'),
    deleteFeedback: db.prepare<[string]>('DELETE FROM feedback WHERE conversation_id = ?'),

    sweepDue: db.prepare<[number, number], ConversationRow>('SELECT * FROM conversations WHERE sweep_at < ? ORDER BY sweep_at LIMIT ?'),
    setSweepAt: db.prepare<[number, string]>('UPDATE conversations SET sweep_at = ? WHERE id = ?'),
    deleteConversation: db.prepare<[string]>('DELETE FROM conversations WHERE id = ?'),
    deleteEntries: db.prepare<[string]>('DELETE FROM entries WHERE conversation_id = ?'),
    deleteIds: db.prepare<[string]>('DELETE FROM ids WHERE conversation_id = ?'),
    deleteOwner: db.prepare<[string, string, string]>('DELETE FROM owners WHERE site_key = ? AND owner_key = ? AND conversation_id = ?'),

    // A job is the head when its conversation has no job yet; an id already queued is kept as is.
    enqueue: db.prepare<{ id: string; cid: string; site: string; event: string; now: number; due: number }, { head: number }>(
      `INSERT INTO jobs (id, conversation_id, site_key, event, enqueued_at, due_at, available_at, head)
       VALUES (@id, @cid, @site, @event, @now, @due, @due, NOT EXISTS (SELECT 1 FROM jobs WHERE conversation_id = @cid))
       ON CONFLICT (id) DO NOTHING
       RETURNING head`,
    ),
    // One range scan of the partial index `jobs_heads` (only first jobs are in it) up to `now`,
    // then a sort of those rows by pos: a claim costs O(log n + d log d) for d heads due now,
    // whatever the backlog of later jobs and of conversations waiting for a retry.
    claimable: db.prepare<[number, number], JobRow>('SELECT * FROM jobs WHERE head = 1 AND available_at <= ? ORDER BY pos LIMIT ?'),
    lease: db.prepare<{ pos: number; lease: string; until: number; now: number }>(
      `UPDATE jobs SET lease = @lease, lease_until = @until, available_at = @until, attempts = attempts + 1,
         first_attempt_at = COALESCE(first_attempt_at, @now), last_attempt_at = @now
       WHERE pos = @pos`,
    ),
    nextAt: db.prepare<[], number | null>('SELECT MIN(available_at) FROM jobs WHERE head = 1').pluck(),
    leasedJob: db.prepare<[string, string], JobRow>('SELECT * FROM jobs WHERE id = ? AND lease = ?'),
    deleteJob: db.prepare<[number]>('DELETE FROM jobs WHERE pos = ?'),
    promoteNext: db.prepare<[string]>('UPDATE jobs SET head = 1 WHERE pos = (SELECT MIN(pos) FROM jobs WHERE conversation_id = ?)'),
    retry: db.prepare<{ id: string; lease: string; due: number; error: string }>(
      `UPDATE jobs SET lease = NULL, lease_until = NULL, due_at = @due, available_at = @due, last_error = @error
       WHERE id = @id AND lease = @lease`,
    ),
    // Leased jobs are always heads, so this reads the heads only.
    clearLeases: db.prepare<[]>('UPDATE jobs SET lease = NULL, lease_until = NULL, available_at = due_at WHERE head = 1 AND lease IS NOT NULL'),

    insertDead: db.prepare<[string, string]>('INSERT INTO dead_letters (site_key, json) VALUES (?, ?)'),
    // The pos of the newest dead letter beyond the cap, if any: it and all older ones go.
    deadCutoff: db.prepare<[string, number], number>('SELECT pos FROM dead_letters WHERE site_key = ? ORDER BY pos DESC LIMIT 1 OFFSET ?').pluck(),
    trimDead: db.prepare<[string, number]>('DELETE FROM dead_letters WHERE site_key = ? AND pos <= ?'),
    listDead: db.prepare<[string], string>('SELECT json FROM dead_letters WHERE site_key = ? ORDER BY pos').pluck(),

    getOnline: db.prepare<[string], number>('SELECT online FROM online WHERE site_key = ?').pluck(),
    setOnline: db.prepare<[string, number]>('INSERT OR REPLACE INTO online (site_key, online) VALUES (?, ?)'),
    revokeVisitor: db.prepare<[string, string, number, number]>(
      `INSERT INTO revoked_visitors (site_key, visitor_id, revoked_at, keep_until) VALUES (?, ?, ?, ?)
       ON CONFLICT (site_key, visitor_id) DO UPDATE SET revoked_at = max(revoked_at, excluded.revoked_at), keep_until = max(keep_until, excluded.keep_until)`,
    ),
    visitorRevokedAt: db.prepare<[string, string, number], number>('SELECT revoked_at FROM revoked_visitors WHERE site_key = ? AND visitor_id = ? AND keep_until > ?').pluck(),
    forgetRevocations: db.prepare<[number]>('DELETE FROM revoked_visitors WHERE keep_until <= ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

const parse = <T>(json: string): T => JSON.parse(json) as T;

function toConversation(row: ConversationRow): Conversation {
  const conversation: Conversation = {
    id: row.id,
    siteKey: row.site_key,
    visitorId: row.visitor_id,
    createdAt: row.created_at,
    started: row.started === 1,
    closed: row.closed === 1,
    context: parse<VisitorContext>(row.context),
    readSeq: row.read_seq,
    peerReadSeq: row.peer_read_seq,
    lastSeq: row.last_seq,
  };
  if (row.identity !== null) conversation.identity = parse<ConversationIdentity>(row.identity);
  return conversation;
}

function toSnapshot(row: StreamRow): StreamSnapshot {
  return { conversationId: row.conversation_id, id: row.id, from: parse<Sender>(row.sender), text: row.text, startedAt: row.started_at, updatedAt: row.updated_at };
}

function toJob(row: JobRow): WebhookJob {
  const job: WebhookJob = {
    id: row.id,
    siteKey: row.site_key,
    conversationId: row.conversation_id,
    event: parse<WebhookEvent>(row.event),
    attempts: row.attempts,
    enqueuedAt: row.enqueued_at,
    dueAt: row.due_at,
  };
  if (row.first_attempt_at !== null) job.firstAttemptAt = row.first_attempt_at;
  if (row.last_attempt_at !== null) job.lastAttemptAt = row.last_attempt_at;
  if (row.last_error !== null) job.lastError = parse<JobError>(row.last_error);
  return job;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** An operation waiting for its group commit. */
interface Grouped {
  op: (t: Transactions) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The durable engine: one SQLite file (WAL), served by one relay instance. Every operation is one
 * transaction (a savepoint) that has committed when its promise resolves, so whatever the relay
 * acked survives kill -9 (and power loss with `synchronous: 'FULL'`). Fan-out stays in this process.
 *
 * Group commit: the operations called in one turn of the event loop run, in call order, in one
 * SQLite transaction at the end of the turn (each in a savepoint of its own, so one that fails is
 * undone alone), and their promises settle after its COMMIT. A burst of sends costs one commit
 * (and, with FULL, one fsync) instead of one each; a failed COMMIT fails every operation of the
 * group, none of which was answered yet.
 */
export class SqliteEngine implements Engine {
  readonly name = 'sqlite';
  /** The database file. */
  readonly path: string;
  private readonly clock: () => number;
  private readonly synchronous: 'FULL' | 'NORMAL';
  private readonly maxDeadLetters: number;
  private readonly busyTimeoutMs: number;
  private readonly sweepIntervalMs: number;
  private readonly emptyTtlMs: number;
  private readonly onListenerError: (error: unknown) => void;
  private readonly fanout: LocalFanout;
  private db: Database.Database | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** Rate-limit buckets: one process serves the engine, so they live here. */
  private readonly buckets = new LocalBuckets();
  /** Slots held per key (`acquireSlot`): one process serves the engine, so counts live here. */
  private readonly slots = new LocalSlots();
  private tx: Transactions | undefined;
  /** Operations waiting for this turn's group commit, in call order. */
  private group: Grouped[] = [];
  /** The group commit: one transaction running each operation in a savepoint of its own. */
  private groupTx: ((ops: readonly Grouped[], t: Transactions, outcomes: Outcome[]) => void) | undefined;

  constructor(options: SqliteEngineOptions) {
    this.path = options.path;
    this.clock = options.now ?? Date.now;
    this.synchronous = options.synchronous ?? 'FULL';
    this.maxDeadLetters = options.maxDeadLetters ?? 1000;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.emptyTtlMs = options.emptyConversationTtlMs ?? 24 * 3600_000;
    this.onListenerError = options.onListenerError ?? (() => {});
    this.fanout = new LocalFanout(this.onListenerError);
    if (this.synchronous !== 'FULL' && this.synchronous !== 'NORMAL') throw new Error(`SqliteEngine: synchronous must be FULL or NORMAL, not ${String(this.synchronous)}.`);
  }

  now(): number {
    return this.clock();
  }

  /**
   * Open the file, set the pragmas, create or check the schema, and clear every lease: one file
   * serves one relay instance, so a lease found at start belongs to a process that is gone (a
   * kill -9 mid-delivery). Waiting for it to expire would only delay that conversation's events;
   * they are claimed again at once (at least once: the backend dedupes on `webhook-id`).
   */
  async start(): Promise<void> {
    if (this.db) return;
    let db: Database.Database | undefined;
    try {
      if (this.path !== ':memory:') mkdirSync(dirname(resolve(this.path)), { recursive: true });
      db = new Database(this.path, { timeout: this.busyTimeoutMs });
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && this.path !== ':memory:') throw new Error(`the file system refused WAL mode (journal_mode is ${String(mode)})`);
      db.pragma(`synchronous = ${this.synchronous}`);
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(this.busyTimeoutMs))}`);
      db.pragma('foreign_keys = OFF');
      migrate(db);
      const statements = prepareStatements(db);
      statements.clearLeases.run();
      this.db = db;
      this.tx = makeTransactions(db, statements, { clock: this.clock, emptyTtlMs: this.emptyTtlMs, maxDeadLetters: this.maxDeadLetters });
      const inside = db;
      this.groupTx = db.transaction((ops: readonly Grouped[], t: Transactions, outcomes: Outcome[]) => {
        for (const { op } of ops) {
          // An error that ended the whole transaction (a full disk): the rest do not run, and the COMMIT fails them all.
          if (!inside.inTransaction) {
            outcomes.push({ ok: false, error: new Error('The group transaction was rolled back.') });
            continue;
          }
          try {
            outcomes.push({ ok: true, value: op(t) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      db?.close();
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`The SQLite engine cannot use ${this.path}: ${reason}`, { cause: error });
    }
    this.sweeper = setInterval(() => {
      try {
        this.sweep();
      } catch {
        // SQLITE_BUSY or a full disk: the next sweep tries again; the operations report such errors themselves.
      }
    }, this.sweepIntervalMs);
    this.sweeper.unref();
  }

  isReady(): boolean {
    return this.db !== undefined;
  }

  async close(): Promise<void> {
    // Operations called before the close still run.
    this.commitGroup();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.fanout.clear();
    const db = this.db;
    this.db = undefined;
    this.tx = undefined;
    this.groupTx = undefined;
    db?.close();
  }

  /** The transactions, once the database is open; a rejected promise before `start` and after `close`. */
  private get t(): Transactions {
    if (!this.tx) throw new Error('The SQLite engine is not open (call start(), and not after close()).');
    return this.tx;
  }

  /** Run `op` in this turn's group commit; resolves with its result once the group has committed. */
  private run<T>(op: (t: Transactions) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.group.push({ op, resolve: resolve as (value: unknown) => void, reject }) === 1) setImmediate(this.commitGroup);
    });
  }

  /** Run the waiting operations in one transaction, each in its savepoint, then settle them. */
  private readonly commitGroup = (): void => {
    const ops = this.group;
    if (ops.length === 0) return;
    this.group = [];
    const outcomes: Outcome[] = [];
    try {
      const t = this.t;
      this.groupTx!(ops, t, outcomes);
    } catch (error) {
      // Not committed (or the engine is closed): nothing of the group is kept, and none of it was answered.
      for (const { reject } of ops) reject(error);
      return;
    }
    ops.forEach(({ resolve, reject }, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) resolve(outcome.value);
      else reject(outcome.error);
    });
  };

  // ---- conversations ----

  async openConversation(request: OpenRequest): Promise<OpenResult> {
    return this.run((t) => t.open(request));
  }

  async getConversation(id: string): Promise<Conversation | null> {
    return this.run((t) => t.get(id));
  }

  async currentConversation(siteKey: string, ownerKey: string): Promise<string | null> {
    return this.run((t) => t.current(siteKey, ownerKey));
  }

  async mergeContext(id: string, patch: VisitorContext, maxBytes: number, quiet = false): Promise<MergeResult | null> {
    return this.run((t) => t.mergeContext(id, patch, maxBytes, quiet));
  }

  async setIdentity(id: string, identity: ConversationIdentity): Promise<Conversation | null> {
    return this.run((t) => t.setIdentity(id, identity));
  }

  async adoptConversation(request: AdoptRequest): Promise<AdoptResult> {
    return this.run((t) => t.adopt(request));
  }

  async setReadSeq(id: string, seq: number): Promise<number | null> {
    return this.run((t) => t.setReadSeq(id, seq));
  }

  async setPeerReadSeq(id: string, seq: number): Promise<number | null> {
    return this.run((t) => t.setPeerReadSeq(id, seq));
  }

  async listConversations(siteKey: string, page: ListRequest): Promise<ConversationPage> {
    return this.run((t) => t.list(siteKey, page));
  }

  async countConversations(): Promise<number> {
    return this.run((t) => t.count());
  }

  async ownerConversations(siteKey: string, ownerKey: string, limit: number): Promise<OwnedConversation[]> {
    return this.run((t) => t.owned(siteKey, ownerKey, limit));
  }

  // ---- log ----

  async append(request: AppendRequest): Promise<AppendResult | null> {
    const result = await this.run((t) => t.append(request));
    if (result && !result.duplicate) {
      // After the commit: subscribers get their own copy.
      this.fanout.deliver({ kind: 'entry', conversationId: request.conversationId, entry: structuredClone(result.entry) });
    }
    return result;
  }

  async read(conversationId: string, afterSeq: number, limit: number): Promise<HistoryResponse> {
    return this.run((t) => t.read(conversationId, afterSeq, limit));
  }

  // ---- streamed answers ----

  async startStream(request: StreamStartRequest): Promise<StreamStartResult | null> {
    const { result, draft } = await this.run((t) => t.startStream(request));
    if (draft) this.fanout.deliver(draft);
    return result;
  }

  async appendStream(request: StreamDeltaRequest): Promise<StreamDeltaResult | null> {
    const { result, draft } = await this.run((t) => t.appendStream(request));
    if (draft) this.fanout.deliver(draft);
    return result;
  }

  async openStreams(conversationId: string): Promise<StreamSnapshot[]> {
    return this.run((t) => t.openStreams(conversationId));
  }

  async stalledStreams(stallMs: number, limit: number): Promise<StreamRef[]> {
    const before = this.clock() - stallMs;
    return this.run((t) => t.stalledStreams(before, limit));
  }

  async endStream(request: StreamEndRequest): Promise<StreamEndResult | null> {
    const result = await this.run((t) => t.endStream(request));
    if (result?.status === 'ended' && !result.duplicate) {
      this.fanout.deliver({ kind: 'entry', conversationId: request.conversationId, entry: structuredClone(result.entry!) });
    }
    return result;
  }

  async enqueueFeedback(request: FeedbackRequest): Promise<FeedbackResult | null> {
    return this.run((t) => t.enqueueFeedback(request));
  }

  /**
   * Drop entries older than their conversation's max age and forget conversations whose log is
   * empty and idle past it (and those that never got an entry, after `emptyConversationTtlMs`).
   * Only conversations whose `sweep_at` passed are read (indexed). Runs on a timer.
   */
  sweep(now: number = this.clock()): void {
    this.buckets.sweep(now);
    for (;;) if (this.t.sweep(now) < SWEEP_BATCH) break;
  }

  // ---- fan-out ----

  async publish(item: TransientItem): Promise<void> {
    this.fanout.deliver(item);
  }

  async subscribe(topic: string, listener: (item: FanoutItem) => void): Promise<() => void> {
    return this.fanout.subscribe(topic, listener);
  }

  subscribeAll(listener: (item: FanoutItem) => void): () => void {
    return this.fanout.subscribeAll(listener);
  }

  // ---- site state ----

  async takeToken(key: string, rate: Rate): Promise<boolean> {
    return this.buckets.take(key, rate, this.clock());
  }

  async acquireSlot(key: string, cap: number): Promise<boolean> {
    return this.slots.acquire(key, cap);
  }

  async releaseSlot(key: string): Promise<void> {
    this.slots.release(key);
  }

  async getOnline(siteKey: string): Promise<boolean | null> {
    return this.run((t) => t.getOnline(siteKey));
  }

  async revokeVisitor(siteKey: string, visitorId: string, at: number, keepMs: number): Promise<void> {
    const until = this.now() + keepMs;
    await this.run((t) => t.revokeVisitor(siteKey, visitorId, at, until));
  }

  async visitorRevokedAt(siteKey: string, visitorId: string): Promise<number | null> {
    const now = this.now();
    return this.run((t) => t.visitorRevokedAt(siteKey, visitorId, now));
  }

  async setOnline(siteKey: string, online: boolean): Promise<void> {
    await this.run((t) => t.setOnline(siteKey, online));
  }

  // ---- webhook queue ----

  async claimWebhooks(max: number, leaseMs: number): Promise<ClaimedJob[]> {
    return this.run((t) => t.claim(max, leaseMs));
  }

  async nextWebhookAt(): Promise<number | null> {
    return this.run((t) => t.nextAt());
  }

  async completeWebhook(id: string, lease: string): Promise<boolean> {
    return this.run((t) => t.complete(id, lease));
  }

  async retryWebhook(id: string, lease: string, delayMs: number, error: JobError): Promise<boolean> {
    return this.run((t) => t.retry(id, lease, delayMs, error));
  }

  async deadLetter(id: string, lease: string, error: JobError): Promise<boolean> {
    return this.run((t) => t.deadLetter(id, lease, error));
  }

  async listDeadLetters(siteKey: string): Promise<DeadLetter[]> {
    return this.run((t) => t.listDead(siteKey));
  }
}

/**
 * Every operation as one better-sqlite3 transaction: BEGIN … COMMIT around synchronous code,
 * so no other JavaScript runs in between, and a throw rolls the whole operation back. Writers
 * use BEGIN IMMEDIATE, taking the write lock up front instead of failing on an upgrade.
 */
function makeTransactions(db: Database.Database, s: Statements, options: { clock: () => number; emptyTtlMs: number; maxDeadLetters: number }) {
  const now = (): number => options.clock();

  /** Queue `jobs`; true when one of them became its conversation's first job. */
  const enqueue = (jobs: readonly WebhookJob[]): boolean => {
    let head = false;
    for (const job of jobs) {
      const row = s.enqueue.get({ id: job.id, cid: job.conversationId, site: job.siteKey, event: JSON.stringify(job.event), now: job.enqueuedAt, due: job.dueAt });
      if (row?.head === 1) head = true;
    }
    return head;
  };

  /** Drop a job that was its conversation's head and make the next one the head. */
  const removeHead = (row: JobRow): void => {
    s.deleteJob.run(row.pos);
    s.promoteNext.run(row.conversation_id);
  };

  const forget = (row: ConversationRow): void => {
    s.deleteConversation.run(row.id);
    s.deleteEntries.run(row.id);
    s.deleteIds.run(row.id);
    s.deleteStreams.run(row.id);
    s.deleteFeedback.run(row.id);
    s.deleteOwner.run(row.site_key, row.owner_key, row.id);
  };

  const open = db.transaction((request: OpenRequest): OpenResult => {
    const existing = s.getConversation.get(request.id);
    if (existing) return { conversation: toConversation(existing), created: false };
    if (!request.replace) {
      const currentId = s.getOwner.get(request.siteKey, request.ownerKey);
      const current = currentId === undefined ? undefined : s.getConversation.get(currentId);
      if (current && current.closed === 0) return { conversation: toConversation(current), created: false };
    }
    const at = now();
    const identity = request.identity ? JSON.stringify(request.identity) : null;
    s.insertConversation.run(request.id, request.siteKey, request.ownerKey, request.visitorId, at, JSON.stringify(request.context), identity, at, at + options.emptyTtlMs);
    s.setOwner.run(request.siteKey, request.ownerKey, request.id);
    return { conversation: toConversation(s.getConversation.get(request.id)!), created: true };
  });

  const mergeContext = db.transaction((id: string, patch: VisitorContext, maxBytes: number, quiet: boolean): MergeResult | null => {
    const row = s.getConversation.get(id);
    if (!row) return null;
    const before = toConversation(row);
    const merged = mergeContextValue(before.context, patch, maxBytes);
    if (!merged.ok) return merged;
    s.setContext.run(JSON.stringify(merged.context), id);
    const conversation: Conversation = { ...before, context: merged.context };
    if (conversation.started && !quiet) {
      // Nothing names a context change from outside, so its event id is fresh: one merge, one job.
      enqueue([makeJob(conversation, newId('evt_'), 'context.updated', { context: merged.context }, now())]);
    }
    return { ok: true, conversation: toConversation(s.getConversation.get(id)!) };
  });

  const setIdentity = db.transaction((id: string, identity: ConversationIdentity): Conversation | null => {
    s.setIdentity.run(JSON.stringify(identity), id);
    const row = s.getConversation.get(id);
    return row ? toConversation(row) : null;
  });

  const adopt = db.transaction((request: AdoptRequest): AdoptResult => {
    const row = s.getConversation.get(request.id);
    if (!row || row.site_key !== request.siteKey || row.closed !== 0) return { status: 'refused' };
    if (row.owner_key === request.ownerKey) return { status: 'adopted', conversation: toConversation(row) };
    if (row.owner_key !== request.fromOwnerKey) return { status: 'refused' };
    const previousId = s.getOwner.get(request.siteKey, request.ownerKey);
    const previous = previousId === undefined || previousId === request.id ? undefined : s.getConversation.get(previousId);
    const linkedId = previous && previous.closed === 0 ? previous.id : undefined;
    s.deleteOwner.run(request.siteKey, request.fromOwnerKey, request.id);
    s.setOwner.run(request.siteKey, request.ownerKey, request.id);
    s.setOwnerKey.run(request.ownerKey, JSON.stringify(request.identity), request.id);
    const conversation = toConversation(s.getConversation.get(request.id)!);
    if (conversation.started) {
      const data = linkedId ? { linkedConversationId: linkedId } : {};
      enqueue([makeJob(conversation, identifiedJobId(conversation.id, request.ownerKey), 'visitor.identified', data, now())]);
    }
    return { status: 'adopted', conversation, ...(linkedId ? { linkedId } : {}) };
  });

  /** The earlier append of `entryId` within the dedupe window, if any. */
  const duplicateOf = (id: string, lastSeq: number, entryId: string, retention: Retention): Extract<AppendResult, { duplicate: true }> | null => {
    const seen = s.findId.get(id, entryId, lastSeq - dedupeWindow(retention));
    if (!seen) return null;
    const json = s.getEntry.get(id, seen.seq);
    return { duplicate: true, entry: json === undefined ? null : parse<LogEntry>(json), seq: seen.seq, ts: seen.ts };
  };

  const append = db.transaction((request: AppendRequest): AppendResult | null => {
    const row = s.getConversation.get(request.conversationId);
    if (!row) return null;
    const before = toConversation(row);
    return duplicateOf(before.id, before.lastSeq, request.entry.id, request.retention) ?? write(before, request);
  });

  /** Append a new entry (not a duplicate) to `before`'s log: seq, retention, jobs. Inside a transaction. */
  const write = (before: Conversation, request: AppendRequest): Extract<AppendResult, { duplicate: false }> => {
    const { conversationId: id, retention } = request;
    const window = dedupeWindow(retention);
    const seq = before.lastSeq + 1;
    const ts = now();
    const json = JSON.stringify({ ...request.entry, seq, ts });
    const entry = parse<LogEntry>(json);
    s.insertEntry.run(id, seq, ts, json);
    s.putId.run(id, entry.id, seq, ts);
    s.pruneIds.run(id, seq - window);
    if (seq > retention.maxMessages) s.trimCount.run(id, seq - retention.maxMessages);
    s.trimAge.run({ id, cutoff: ts - retention.maxAgeMs, end: seq + 1 });
    const jobs = appendJobs(before, request, entry, ts);
    const queuedHead = enqueue(jobs);
    s.afterAppend.run({
      id,
      lastSeq: seq,
      now: ts,
      maxAgeMs: retention.maxAgeMs,
      started: startsConversation(before, request) ? 1 : 0,
      closed: closesConversation(entry) ? 1 : 0,
    });
    return { duplicate: false, entry, seq, ts, ...(jobs.length ? { queuedHead } : {}) };
  };

  // ---- streamed answers ----
  // Each returns the draft to fan out once the transaction has committed, if any.

  const startStream = db.transaction((request: StreamStartRequest): { result: StreamStartResult | null; draft?: DraftItem } => {
    const row = s.getConversation.get(request.conversationId);
    if (!row) return { result: null };
    const done = duplicateOf(row.id, row.last_seq, request.id, request.retention);
    if (done) return { result: { status: 'ended', entry: done.entry, seq: done.seq, ts: done.ts } };
    const at = now();
    const open = s.getStream.get(row.id, request.id);
    if (open) {
      s.touchStream.run(at, row.id, request.id);
      return { result: { status: 'open', created: false, stream: toSnapshot({ ...open, updated_at: at }) } };
    }
    s.insertStream.run({ cid: row.id, id: request.id, sender: JSON.stringify(request.from), now: at });
    const stream = toSnapshot(s.getStream.get(row.id, request.id)!);
    const draft: DraftItem = { kind: 'draft', conversationId: row.id, draft: { id: stream.id, ts: at, from: stream.from, offset: 0, text: '' } };
    return { result: { status: 'open', created: true, stream }, draft };
  });

  const appendStream = db.transaction((request: StreamDeltaRequest): { result: StreamDeltaResult | null; draft?: DraftItem } => {
    const row = s.getConversation.get(request.conversationId);
    if (!row) return { result: null };
    if (duplicateOf(row.id, row.last_seq, request.id, request.retention)) return { result: { status: 'ended' } };
    const stream = s.getStream.get(row.id, request.id);
    if (!stream) return { result: { status: 'not-found' } };
    const at = now();
    const held = stream.text.length;
    const part = deltaPart(held, request.offset, request.text);
    let result: StreamDeltaResult;
    if (part === null) result = { status: 'gap', length: held };
    else if (!part) result = { status: 'ok', length: held, appended: false };
    else if (held + part.length > MAX_STREAM_LENGTH) result = { status: 'too-long', length: held };
    else {
      s.setStreamText.run(stream.text + part, at, row.id, request.id);
      const draft: DraftItem = { kind: 'draft', conversationId: row.id, draft: { id: stream.id, ts: at, from: parse<Sender>(stream.sender), offset: held, text: part } };
      return { result: { status: 'ok', length: held + part.length, appended: true }, draft };
    }
    s.touchStream.run(at, row.id, request.id);
    return { result };
  });

  const endStream = db.transaction((request: StreamEndRequest): StreamEndResult | null => {
    const row = s.getConversation.get(request.conversationId);
    if (!row) return null;
    const before = toConversation(row);
    const stream = s.getStream.get(row.id, request.id);
    const done = duplicateOf(row.id, row.last_seq, request.id, request.retention);
    if (done) {
      if (stream) s.deleteStream.run(row.id, request.id);
      return { status: 'ended', duplicate: true, entry: done.entry, seq: done.seq, ts: done.ts };
    }
    if (!stream) return { status: 'not-found' };
    if (request.stalledMs !== undefined && stream.updated_at > now() - request.stalledMs) return { status: 'active' };
    const entry = streamEntry(request, parse<Sender>(stream.sender), stream.text);
    if (!entry) return { status: 'empty' };
    s.deleteStream.run(row.id, request.id);
    const result = write(before, { conversationId: row.id, entry, retention: request.retention });
    return { status: 'ended', duplicate: false, entry: result.entry, seq: result.seq, ts: result.ts };
  });

  const enqueueFeedback = db.transaction((request: FeedbackRequest): FeedbackResult | null => {
    const row = s.getConversation.get(request.conversationId);
    if (!row) return null;
    const jobId = webhookJobId(row.id, request.id, 'message.feedback');
    if (s.hasFeedback.get(row.id, jobId) !== undefined) return 'duplicate';
    const target = duplicateOf(row.id, row.last_seq, request.messageId, request.retention)?.entry;
    if (!target || target.kind !== 'msg' || target.from.role !== 'bot') return 'not-found';
    s.insertFeedback.run(row.id, jobId);
    const cutoff = s.feedbackCutoff.get(row.id, FEEDBACK_DEDUPE);
    if (cutoff !== undefined) s.trimFeedback.run(row.id, cutoff);
    const data = { messageId: request.messageId, value: request.value, ...(request.comment !== undefined ? { comment: request.comment } : {}) };
    enqueue([makeJob(toConversation(row), jobId, 'message.feedback', data, now())]);
    return 'queued';
  });

  const read = db.transaction((id: string, afterSeq: number, limit: number): HistoryResponse => {
    const lastSeq = s.lastSeq.get(id) ?? 0;
    const count = Math.max(0, Math.floor(limit));
    if (afterSeq >= lastSeq || count === 0) return { entries: [], lastSeq, hasMore: afterSeq < lastSeq && count === 0 };
    const rows = s.readEntries.all(id, afterSeq, count + 1);
    const hasMore = rows.length > count;
    return { entries: rows.slice(0, count).map((json) => parse<LogEntry>(json)), lastSeq, hasMore };
  });

  const sweep = db.transaction((at: number): number => {
    const rows = s.sweepDue.all(at, SWEEP_BATCH);
    for (const row of rows) {
      if (row.max_age_ms === null) {
        forget(row); // never got an entry, and its TTL is over
        continue;
      }
      s.trimAge.run({ id: row.id, cutoff: at - row.max_age_ms, end: row.last_seq + 1 });
      const oldest = s.oldestTs.get(row.id);
      if (oldest !== undefined) s.setSweepAt.run(oldest + row.max_age_ms, row.id);
      else if (row.last_activity_at < at - row.max_age_ms) forget(row);
      else s.setSweepAt.run(row.last_activity_at + row.max_age_ms, row.id);
    }
    return rows.length;
  });

  const claim = db.transaction((max: number, leaseMs: number): ClaimedJob[] => {
    const at = now();
    const leaseUntil = at + leaseMs;
    const out: ClaimedJob[] = [];
    for (const row of s.claimable.all(at, Math.max(0, Math.floor(max)))) {
      const lease = newId('l_');
      s.lease.run({ pos: row.pos, lease, until: leaseUntil, now: at });
      const job = toJob(row);
      job.attempts += 1;
      job.firstAttemptAt ??= at;
      job.lastAttemptAt = at;
      out.push({ ...job, lease, leaseUntil });
    }
    return out;
  });

  const complete = db.transaction((id: string, lease: string): boolean => {
    const row = s.leasedJob.get(id, lease);
    if (!row) return false;
    removeHead(row);
    return true;
  });

  const retry = db.transaction((id: string, lease: string, delayMs: number, error: JobError): boolean => {
    return s.retry.run({ id, lease, due: now() + delayMs, error: JSON.stringify(error) }).changes === 1;
  });

  const deadLetter = db.transaction((id: string, lease: string, error: JobError): boolean => {
    const row = s.leasedJob.get(id, lease);
    if (!row) return false;
    removeHead(row);
    const letter: DeadLetter = {
      event: parse<WebhookEvent>(row.event),
      attempts: row.attempts,
      firstAttemptAt: row.first_attempt_at ?? row.enqueued_at,
      lastAttemptAt: row.last_attempt_at ?? row.enqueued_at,
      lastError: { ...error },
    };
    s.insertDead.run(row.site_key, JSON.stringify(letter));
    const cutoff = s.deadCutoff.get(row.site_key, options.maxDeadLetters);
    if (cutoff !== undefined) s.trimDead.run(row.site_key, cutoff);
    return true;
  });

  const setOnline = db.transaction((siteKey: string, online: boolean): void => {
    s.setOnline.run(siteKey, online ? 1 : 0);
  });

  const setReadSeq = db.transaction((id: string, seq: number): number | null => s.raiseReadSeq.get(seq, id) ?? null);
  const setPeerReadSeq = db.transaction((id: string, seq: number): number | null => s.raisePeerReadSeq.get(seq, id) ?? null);

  // Single reads are one statement, and so one implicit transaction each.
  return {
    open: open.immediate,
    get: (id: string): Conversation | null => {
      const row = s.getConversation.get(id);
      return row ? toConversation(row) : null;
    },
    current: (siteKey: string, ownerKey: string): string | null => s.getOwner.get(siteKey, ownerKey) ?? null,
    mergeContext: mergeContext.immediate,
    setIdentity: setIdentity.immediate,
    adopt: adopt.immediate,
    setReadSeq: setReadSeq.immediate,
    setPeerReadSeq: setPeerReadSeq.immediate,
    list: (siteKey: string, page: ListRequest): ConversationPage => {
      const after = listPositionOf(page.cursor);
      const limit = pageLimit(page.limit);
      // One row beyond the page tells whether another page follows.
      const rows = after ? s.listAfter.all({ site: siteKey, at: after.createdAt, id: after.key, limit: limit + 1 }) : s.listNewest.all(siteKey, limit + 1);
      const conversations = rows.slice(0, limit).map(toConversation);
      const last = conversations[conversations.length - 1];
      return { conversations, nextCursor: rows.length > limit && last ? encodeListCursor({ createdAt: last.createdAt, key: last.id }) : null };
    },
    count: (): number => s.countConversations.get() ?? 0,
    owned: db.transaction((siteKey: string, ownerKey: string, limit: number): OwnedConversation[] =>
      s.listOwned.all(siteKey, ownerKey, Math.max(0, Math.floor(limit))).map((row) => {
        const last = s.lastMessage.get(row.id, PREVIEW_SCAN);
        return { id: row.id, createdAt: row.created_at, closed: row.closed === 1, lastSeq: row.last_seq, last: last === undefined ? null : parse<MessageEntry>(last) };
      }),
    ).deferred,
    append: append.immediate,
    read: read.deferred,
    startStream: startStream.immediate,
    appendStream: appendStream.immediate,
    endStream: endStream.immediate,
    openStreams: (conversationId: string): StreamSnapshot[] => s.openStreams.all(conversationId).map(toSnapshot),
    stalledStreams: (cutoff: number, limit: number): StreamRef[] =>
      s.stalledStreams.all(cutoff, Math.max(0, Math.floor(limit))).map((r) => ({ conversationId: r.conversation_id, id: r.id })),
    enqueueFeedback: enqueueFeedback.immediate,
    sweep: sweep.immediate,
    getOnline: (siteKey: string): boolean | null => {
      const online = s.getOnline.get(siteKey);
      return online === undefined ? null : online === 1;
    },
    setOnline: setOnline.immediate,
    revokeVisitor: db
      .transaction((siteKey: string, visitorId: string, at: number, until: number): void => {
        s.revokeVisitor.run(siteKey, visitorId, at, until);
        s.forgetRevocations.run(Math.min(at, until));
      })
      .immediate,
    visitorRevokedAt: (siteKey: string, visitorId: string, now: number): number | null => s.visitorRevokedAt.get(siteKey, visitorId, now) ?? null,
    claim: claim.immediate,
    nextAt: (): number | null => s.nextAt.get() ?? null,
    complete: complete.immediate,
    retry: retry.immediate,
    deadLetter: deadLetter.immediate,
    listDead: (siteKey: string): DeadLetter[] => s.listDead.all(siteKey).map((json) => parse<DeadLetter>(json)),
  };
}

type Transactions = ReturnType<typeof makeTransactions>;

/** Create the schema, or check that the file's schema is one this code knows. */
function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true });
  if (typeof version !== 'number') throw new Error('cannot read PRAGMA user_version');
  if (version > SCHEMA_VERSION) throw new Error(`its schema is version ${version}, newer than this relay's ${SCHEMA_VERSION}; run a newer relay`);
  db.transaction(() => {
    db.exec(SCHEMA);
    // Version 2: the list pages by (created_at, id); the index by (site_key, created_at) goes.
    if (version < 2) db.exec('DROP INDEX IF EXISTS conversations_site');
    // Version 3: revoked_visitors (created above by the schema's IF NOT EXISTS).
    // Version 4: streams and feedback (created above the same way).
    // Version 5: the conversations_owner index (created above the same way).
    // Version 6: the site side's read mark (a new file has it from the schema above).
    const columns = db.prepare<[], string>("SELECT name FROM pragma_table_info('conversations')").pluck().all();
    if (!columns.includes('peer_read_seq')) db.exec('ALTER TABLE conversations ADD COLUMN peer_read_seq INTEGER NOT NULL DEFAULT 0');
    // Future migrations: `if (version < 7) { … }` here, in the same transaction.
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** The durable default engine on one SQLite file. */
export function createSqliteEngine(options: SqliteEngineOptions): SqliteEngine {
  return new SqliteEngine(options);
}
