import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { describeEngine } from '../test-support/engine-contract.js';
import { SqliteEngine, type SqliteEngineOptions } from './sqlite.js';
import { conversationTopic, type AppendRequest, type FanoutItem, type NewEntry, type OpenRequest } from './types.js';

const dirs: string[] = [];
const engines: SqliteEngine[] = [];
const raw: Database.Database[] = [];

/** A fresh database path in its own temp directory. */
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
  dirs.push(dir);
  return join(dir, 'parley.db');
}

/** An engine on `path` (a fresh one by default), closed after the test. Not started. */
function engine(options: Partial<SqliteEngineOptions> = {}): SqliteEngine {
  const e = new SqliteEngine({ path: tempPath(), ...options });
  engines.push(e);
  return e;
}

async function started(options: Partial<SqliteEngineOptions> = {}): Promise<SqliteEngine> {
  const e = engine(options);
  await e.start();
  return e;
}

/** A second, plain connection to the engine's file (as another process would have). */
function connect(path: string): Database.Database {
  const db = new Database(path);
  raw.push(db);
  return db;
}

/** Leave the file at `path` as a relay of schema `version` did: `sql` undoes what came after it. */
function downgrade(path: string, sql: string, version: number): void {
  const old = connect(path);
  old.exec(sql);
  old.pragma(`user_version = ${version}`);
  old.close();
}

/** The engine's own connection: some pragmas (synchronous) are per connection. */
const connectionOf = (e: SqliteEngine): Database.Database => (e as unknown as { db: Database.Database }).db;

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const db of raw.splice(0)) if (db.open) db.close();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// The contract runs with synchronous NORMAL: its behaviour is the same as FULL's (which only adds an
// fsync per commit, for power loss, which no test here can observe) at a fraction of the time on a
// busy disk. The tests below keep the default, FULL.
describeEngine('sqlite', {
  make: async (clock) => engine({ now: clock.now, synchronous: 'NORMAL' }),
  async reopen(previous, clock) {
    if (!(previous instanceof SqliteEngine)) throw new Error('reopen expects a SqliteEngine');
    await previous.close();
    return engine({ path: previous.path, now: clock.now, synchronous: 'NORMAL' });
  },
});

const retention = { maxMessages: 100, maxAgeMs: 3600_000 };
const open = (id = 'c1', ownerKey = 'v:visitor'): OpenRequest => ({ id, siteKey: 'site', ownerKey, visitorId: 'visitor', context: { attrs: { plan: 'pro' } } });
const msg = (id: string, text = id): NewEntry => ({ kind: 'msg', id, from: { role: 'visitor' }, body: { type: 'text', text } });
const send = (id: string, conversationId = 'c1', more: Partial<AppendRequest> = {}): AppendRequest => ({
  conversationId,
  entry: msg(id),
  retention,
  webhook: 'message.created',
  start: true,
  ...more,
});

describe('sqlite engine: the file', () => {
  test('uses WAL and synchronous FULL by default, NORMAL when configured', async () => {
    const full = await started();
    expect(connectionOf(full).pragma('journal_mode', { simple: true })).toBe('wal');
    expect(connectionOf(full).pragma('synchronous', { simple: true })).toBe(2);
    expect(connectionOf(full).pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(connect(full.path).pragma('user_version', { simple: true })).toBe(6);

    const normal = await started({ synchronous: 'NORMAL', busyTimeoutMs: 250 });
    expect(connectionOf(normal).pragma('journal_mode', { simple: true })).toBe('wal');
    expect(connectionOf(normal).pragma('synchronous', { simple: true })).toBe(1);
    expect(connectionOf(normal).pragma('busy_timeout', { simple: true })).toBe(250);
  });

  test('creates the parent directories of its path', async () => {
    const path = join(dirname(tempPath()), 'a', 'b', 'parley.db');
    const e = await started({ path });
    expect(e.isReady()).toBe(true);
    expect(existsSync(path)).toBe(true);
  });

  test('a fresh engine on the same file reads everything a closed one wrote', async () => {
    let t = 1_000;
    const now = () => t;
    const first = await started({ now });
    const path = first.path;
    await first.openConversation(open());
    await first.append(send('m1'));
    t += 10;
    await first.append(send('m2'));
    await first.setReadSeq('c1', 2);
    await first.setPeerReadSeq('c1', 1);
    await first.setOnline('site', true);
    await first.mergeContext('c1', { page: { url: 'https://shop.example/cart' } }, 16_384);
    await first.setIdentity('c1', { userId: 'u1', name: 'Ann', verified: true });
    const [started1] = await first.claimWebhooks(1, 30_000);
    await first.completeWebhook(started1!.id, started1!.lease);
    const [m1] = await first.claimWebhooks(1, 30_000);
    await first.deadLetter(m1!.id, m1!.lease, { code: 'HTTP_500', message: 'boom', status: 500 });
    await first.close();
    expect(first.isReady()).toBe(false);

    const second = await started({ path, now });
    expect(await second.getConversation('c1')).toEqual({
      id: 'c1',
      siteKey: 'site',
      visitorId: 'visitor',
      createdAt: 1_000,
      started: true,
      closed: false,
      context: { attrs: { plan: 'pro' }, page: { url: 'https://shop.example/cart' } },
      identity: { userId: 'u1', name: 'Ann', verified: true },
      readSeq: 2,
      peerReadSeq: 1,
      lastSeq: 2,
    });
    expect(await second.currentConversation('site', 'v:visitor')).toBe('c1');
    expect(await second.getOnline('site')).toBe(true);
    const history = await second.read('c1', 0, 10);
    expect(history.entries.map((e) => [e.id, e.seq, e.ts])).toEqual([
      ['m1', 1, 1_000],
      ['m2', 2, 1_010],
    ]);
    expect((await second.listDeadLetters('site')).map((d) => [d.event.type, d.attempts, d.lastError.code])).toEqual([['message.created', 1, 'HTTP_500']]);
    // The queue goes on where it was: m2's job, then context.updated.
    const jobs = [];
    for (let job = (await second.claimWebhooks(5, 1000))[0]; job; job = (await second.claimWebhooks(5, 1000))[0]) {
      jobs.push(job.event.type);
      expect(await second.completeWebhook(job.id, job.lease)).toBe(true);
    }
    expect(jobs).toEqual(['message.created', 'context.updated']);
    // A redone append is still a duplicate after the restart.
    expect(await second.append(send('m1'))).toMatchObject({ duplicate: true, seq: 1, ts: 1_000 });
  });

  test('committed data is visible to a second connection while the first was never closed (a crash)', async () => {
    const first = await started();
    await first.openConversation(open());
    for (let i = 1; i <= 20; i++) await first.append(send(`m${i}`));
    // No close and no checkpoint: the commits sit in the WAL.
    expect(existsSync(first.path + '-wal')).toBe(true);
    const second = await started({ path: first.path });
    const history = await second.read('c1', 0, 100);
    expect(history.lastSeq).toBe(20);
    expect(history.entries.map((e) => e.id)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
    const claimed = await second.claimWebhooks(10, 1000);
    expect(claimed.map((j) => j.event.type)).toEqual(['conversation.started']);
  });

  test('start clears every lease, so deliveries resume at once after a crash', async () => {
    const t = 5_000;
    const first = await started({ now: () => t });
    await first.openConversation(open('c1'));
    await first.openConversation(open('c2', 'v:other'));
    await first.append(send('a', 'c1', { start: false }));
    await first.append(send('b', 'c2', { start: false }));
    const leased = await first.claimWebhooks(10, 60_000);
    expect(leased).toHaveLength(2);
    expect(await first.claimWebhooks(10, 60_000)).toEqual([]);

    // The process dies with both leases out; the next one starts on the same file, long before they expire.
    const second = await started({ path: first.path, now: () => t + 1 });
    const again = await second.claimWebhooks(10, 60_000);
    expect(again.map((j) => [j.id, j.attempts])).toEqual(leased.map((j) => [j.id, 2]));
    expect(again.map((j) => j.lease)).not.toContain(leased[0]!.lease);
    // The dead process's tokens are stale now.
    expect(await second.completeWebhook(leased[0]!.id, leased[0]!.lease)).toBe(false);
    expect(await second.completeWebhook(again[0]!.id, again[0]!.lease)).toBe(true);
  });

  test('an unusable path gives a clear error and no ready engine', async () => {
    const notADir = tempPath();
    writeFileSync(notADir, 'a file, not a directory');
    const blocked = engine({ path: join(notADir, 'parley.db') });
    await expect(blocked.start()).rejects.toThrow(`The SQLite engine cannot use ${join(notADir, 'parley.db')}: `);
    expect(blocked.isReady()).toBe(false);

    const corrupt = tempPath();
    writeFileSync(corrupt, Buffer.alloc(8192, 'garbage!'));
    const bad = engine({ path: corrupt });
    await expect(bad.start()).rejects.toThrow(/cannot use .*parley\.db: file is not a database/);
    expect(bad.isReady()).toBe(false);
    await expect(bad.getConversation('c1')).rejects.toThrow('not open');
  });

  test('refuses a file written by a newer schema', async () => {
    const path = tempPath();
    connect(path).pragma('user_version = 7');
    await expect(engine({ path }).start()).rejects.toThrow(/schema is version 7, newer than this relay's 6/);
  });

  test('a version 1 file is migrated in place: its conversations page by the (site, created_at, id) index', async () => {
    let t = 1_700_000_000_000;
    const first = await started({ now: () => t });
    for (let i = 0; i < 5; i++) {
      t += i % 2; // ties too
      await first.openConversation(open(`c${i}`, `v:${i}`));
    }
    await first.close();
    // What a version 1 relay left: the list index on (site_key, created_at) only.
    downgrade(first.path, 'DROP INDEX conversations_site_page; CREATE INDEX conversations_site ON conversations (site_key, created_at);', 1);

    const e = await started({ path: first.path, now: () => t });
    const db = connect(e.path);
    expect(db.pragma('user_version', { simple: true })).toBe(6);
    const indexes = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conversations' AND sql IS NOT NULL ORDER BY name").pluck().all();
    expect(indexes).toEqual(['conversations_owner', 'conversations_site_page', 'conversations_sweep']);
    const plan = db
      .prepare("EXPLAIN QUERY PLAN SELECT * FROM conversations WHERE site_key = 'site' AND (created_at, id) < (1, 'c') ORDER BY created_at DESC, id DESC LIMIT 3")
      .all()
      .map((row) => (row as { detail: string }).detail);
    expect(plan).toEqual(['SEARCH conversations USING INDEX conversations_site_page (site_key=? AND (created_at,id)<(?,?))']);
    const page1 = await e.listConversations('site', { limit: 3 });
    const page2 = await e.listConversations('site', { limit: 3, cursor: page1.nextCursor! });
    expect([...page1.conversations, ...page2.conversations].map((c) => c.id)).toEqual(['c4', 'c3', 'c2', 'c1', 'c0']);
    expect(page2.nextCursor).toBeNull();
  });
});

describe('sqlite engine: schema version 6', () => {
  test("a version 5 file is migrated in place: its conversations are kept, and gain the site side's read mark at 0", async () => {
    const first = await started();
    await first.openConversation(open('c1', 'v:1'));
    await first.setReadSeq('c1', 4);
    await first.close();
    // What a version 5 relay left: no peer_read_seq column.
    downgrade(first.path, 'ALTER TABLE conversations DROP COLUMN peer_read_seq;', 5);

    const e = await started({ path: first.path });
    expect(connect(e.path).pragma('user_version', { simple: true })).toBe(6);
    expect(await e.getConversation('c1')).toMatchObject({ id: 'c1', readSeq: 4, peerReadSeq: 0 });
    expect(await e.setPeerReadSeq('c1', 3)).toBe(3);
    expect(await e.getConversation('c1')).toMatchObject({ readSeq: 4, peerReadSeq: 3 });
  });
});

describe('sqlite engine: schema version 5', () => {
  test("a version 4 file is migrated in place: an owner's conversations are listed by one search of the owner index", async () => {
    let t = 1_700_000_000_000;
    const first = await started({ now: () => t });
    for (let i = 0; i < 4; i++) {
      t += 1;
      await first.openConversation({ ...open(`c${i}`, i < 3 ? 'u:ann' : 'u:bob'), replace: true });
    }
    await first.close();
    // What a version 4 relay left: no owner index.
    downgrade(first.path, 'DROP INDEX conversations_owner;', 4);

    const e = await started({ path: first.path, now: () => t });
    const db = connect(e.path);
    expect(db.pragma('user_version', { simple: true })).toBe(6);
    const plan = db
      .prepare("EXPLAIN QUERY PLAN SELECT * FROM conversations WHERE site_key = 'site' AND owner_key = 'u:ann' ORDER BY created_at DESC, id DESC LIMIT 20")
      .all()
      .map((row) => (row as { detail: string }).detail);
    expect(plan).toEqual(['SEARCH conversations USING INDEX conversations_owner (site_key=? AND owner_key=?)']);
    expect((await e.ownerConversations('site', 'u:ann', 20)).map((c) => c.id)).toEqual(['c2', 'c1', 'c0']);
  });
});

describe('sqlite engine: schema version 4', () => {
  const keep = { maxMessages: 1000, maxAgeMs: 24 * 3600_000 };
  test('a version 3 file is migrated in place: its log is kept and it gains streamed answers and the feedback dedupe', async () => {
    const first = await started();
    await first.openConversation(open('c1', 'v:1'));
    await first.append({ conversationId: 'c1', entry: { kind: 'msg', id: 'b1', from: { role: 'bot' }, body: { type: 'text', text: 'Hi' } }, retention: keep });
    await first.close();
    // What a version 3 relay left: no streams, no feedback.
    downgrade(first.path, 'DROP TABLE streams; DROP TABLE feedback;', 3);

    const e = await started({ path: first.path });
    expect(connect(e.path).pragma('user_version', { simple: true })).toBe(6);
    expect((await e.read('c1', 0, 10)).entries.map((entry) => entry.id)).toEqual(['b1']);
    expect(await e.enqueueFeedback({ conversationId: 'c1', id: 'f1', messageId: 'b1', value: 'up', retention: keep })).toBe('queued');
    await e.startStream({ conversationId: 'c1', id: 's1', from: { role: 'bot', ai: true }, retention: keep, keepMs: 60_000 });
    await e.appendStream({ conversationId: 'c1', id: 's1', offset: 0, text: 'Streamed', retention: keep, keepMs: 60_000 });
    expect(await e.endStream({ conversationId: 'c1', id: 's1', retention: keep })).toMatchObject({ status: 'ended', seq: 2 });
  });

  test('forgetting a conversation drops its open streams and feedback ids', async () => {
    let now = 0;
    const e = await started({ now: () => now });
    const minute = { maxMessages: 100, maxAgeMs: 60_000 };
    await e.openConversation(open('c1', 'v:1'));
    await e.append({ conversationId: 'c1', entry: { kind: 'msg', id: 'b1', from: { role: 'bot' }, body: { type: 'text', text: 'Hi' } }, retention: minute });
    await e.enqueueFeedback({ conversationId: 'c1', id: 'f1', messageId: 'b1', value: 'up', retention: minute });
    await e.startStream({ conversationId: 'c1', id: 's1', from: { role: 'bot', ai: true }, retention: minute, keepMs: 60_000 });
    now = 200_000;
    e.sweep();
    expect(await e.getConversation('c1')).toBeNull();
    const db = connect(e.path);
    expect(db.prepare('SELECT COUNT(*) AS n FROM streams').get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM feedback').get()).toEqual({ n: 0 });
  });
});

describe('sqlite engine: failures', () => {
  test('a failure mid-append rolls the whole append back', async () => {
    const e = await started();
    await e.openConversation(open());
    await e.append(send('m1', 'c1', { start: false, webhook: undefined }));
    // Make the job insert fail, as a full disk would, after the entry was written.
    connect(e.path).exec(`CREATE TRIGGER fail_jobs BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    await expect(e.append(send('m2'))).rejects.toThrow('disk full');
    expect(await e.read('c1', 0, 10)).toMatchObject({ lastSeq: 1, entries: [{ id: 'm1' }] });
    expect(await e.getConversation('c1')).toMatchObject({ started: false, lastSeq: 1 });
    expect(await e.nextWebhookAt()).toBeNull();

    connect(e.path).exec('DROP TRIGGER fail_jobs');
    expect(await e.append(send('m2'))).toMatchObject({ duplicate: false, seq: 2 });
    expect((await e.claimWebhooks(5, 1000)).map((j) => j.event.type)).toEqual(['conversation.started']);
  });

  test('SQLITE_BUSY surfaces as a rejected promise and changes nothing', async () => {
    const e = await started({ busyTimeoutMs: 20 });
    await e.openConversation(open());
    const other = connect(e.path);
    other.exec('BEGIN IMMEDIATE');
    await expect(e.append(send('m1'))).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    other.exec('ROLLBACK');
    expect(await e.getConversation('c1')).toMatchObject({ lastSeq: 0, started: false });
    expect(await e.append(send('m1'))).toMatchObject({ seq: 1 });
  });

  test('operations before start and after close reject', async () => {
    const e = engine();
    await expect(e.openConversation(open())).rejects.toThrow('not open');
    await e.start();
    expect(e.isReady()).toBe(true);
    await e.close();
    await expect(e.read('c1', 0, 10)).rejects.toThrow('not open');
    await e.close();
  });
});

describe('sqlite engine: log and queue', () => {
  test('ids stay deduplicated after retention trimmed their entries', async () => {
    let t = 0;
    const e = await started({ now: () => t });
    await e.openConversation(open());
    const small = { maxMessages: 2, maxAgeMs: 3600_000 };
    for (const id of ['a', 'b', 'c']) {
      t += 1;
      await e.append({ conversationId: 'c1', entry: msg(id), retention: small });
    }
    expect((await e.read('c1', 0, 10)).entries.map((x) => x.id)).toEqual(['b', 'c']);
    expect(await e.append({ conversationId: 'c1', entry: msg('a', 'again'), retention: small })).toEqual({ duplicate: true, entry: null, seq: 1, ts: 1 });
    expect(await e.append({ conversationId: 'c1', entry: msg('c', 'again'), retention: small })).toMatchObject({ duplicate: true, seq: 3, entry: { id: 'c', body: { text: 'c' } } });
  });

  test('the sweep drops expired entries and forgets idle conversations with their owner', async () => {
    let t = 0;
    const e = await started({ now: () => t, emptyConversationTtlMs: 500 });
    const short = { maxMessages: 100, maxAgeMs: 1000 };
    await e.openConversation(open('c1', 'v:one'));
    await e.openConversation(open('c2', 'v:two'));
    await e.append({ conversationId: 'c1', entry: msg('a'), retention: short });
    t = 600;
    await e.append({ conversationId: 'c1', entry: msg('b'), retention: short });
    e.sweep(1001); // 'a' is older than 1000 ms; c2 never got an entry and is older than 500 ms
    expect((await e.read('c1', 0, 10)).entries.map((x) => x.id)).toEqual(['b']);
    expect(await e.getConversation('c2')).toBeNull();
    expect(await e.currentConversation('site', 'v:two')).toBeNull();
    e.sweep(1600); // 'b' is exactly 1000 ms old: kept
    expect((await e.read('c1', 0, 10)).entries.map((x) => x.id)).toEqual(['b']);
    expect(await e.currentConversation('site', 'v:one')).toBe('c1');
    e.sweep(1601); // 'b' expired, and c1 has been idle for longer than its max age
    expect(await e.getConversation('c1')).toBeNull();
    expect(await e.read('c1', 0, 10)).toEqual({ entries: [], lastSeq: 0, hasMore: false });
    expect(await e.currentConversation('site', 'v:one')).toBeNull();
    expect(await e.countConversations()).toBe(0);
  });

  test('a retried job stays first in its conversation and a stale token changes nothing', async () => {
    let t = 0;
    const e = await started({ now: () => t });
    await e.openConversation(open('c1'));
    await e.openConversation(open('c2', 'v:other'));
    await e.append(send('a1', 'c1', { start: false }));
    await e.append(send('b1', 'c2', { start: false }));
    await e.append(send('a2', 'c1', { start: false }));
    const [a1, b1] = await e.claimWebhooks(10, 100);
    expect([a1?.event.data, b1?.event.data]).toMatchObject([{ message: { id: 'a1' } }, { message: { id: 'b1' } }]);
    expect(await e.retryWebhook(a1!.id, a1!.lease, 50, { code: 'HTTP_503', message: 'later' })).toBe(true);
    expect(await e.retryWebhook(a1!.id, a1!.lease, 50, { code: 'HTTP_503', message: 'twice' })).toBe(false);
    expect(await e.nextWebhookAt()).toBe(50);
    expect(await e.claimWebhooks(10, 100)).toEqual([]); // a2 waits behind a1, b1 is leased
    t = 50;
    const [again] = await e.claimWebhooks(10, 100);
    expect(again).toMatchObject({ id: a1!.id, attempts: 2, firstAttemptAt: 0, lastAttemptAt: 50, lastError: { message: 'later' } });
    t = 200; // b1's lease ran out and a1's too: both claimable again, oldest first
    const expired = await e.claimWebhooks(10, 100);
    expect(expired.map((j) => j.id)).toEqual([a1!.id, b1!.id]);
    expect(await e.completeWebhook(again!.id, again!.lease)).toBe(false);
    expect(await e.completeWebhook(expired[0]!.id, expired[0]!.lease)).toBe(true);
    const [next] = await e.claimWebhooks(10, 100);
    expect(next?.event.data).toMatchObject({ message: { id: 'a2' } });
  });

  test('dead letters are capped per site, newest kept', async () => {
    const e = await started({ maxDeadLetters: 2 });
    await e.openConversation(open());
    for (const id of ['m1', 'm2', 'm3']) await e.append(send(id, 'c1', { start: false }));
    for (let i = 0; i < 3; i++) {
      const [job] = await e.claimWebhooks(1, 1000);
      expect(await e.deadLetter(job!.id, job!.lease, { code: 'GONE', message: `${i}` })).toBe(true);
    }
    expect((await e.listDeadLetters('site')).map((d) => d.lastError.message)).toEqual(['1', '2']);
    expect(await e.listDeadLetters('other')).toEqual([]);
  });

  test('fans committed entries out; a throwing listener does not stop the others', async () => {
    const errors: unknown[] = [];
    const e = await started({ onListenerError: (error) => errors.push(error) });
    await e.openConversation(open());
    const got: FanoutItem[] = [];
    await e.subscribe(conversationTopic('c1'), () => {
      throw new Error('listener broke');
    });
    const stop = await e.subscribe(conversationTopic('c1'), (item) => got.push(item));
    const result = await e.append(send('m1'));
    await e.append(send('m1')); // a duplicate is not fanned out again
    await e.publish({ kind: 'transient', conversationId: 'c1', ts: 1, event: { type: 'typing', on: true } });
    expect(got).toEqual([
      { kind: 'entry', conversationId: 'c1', entry: result!.entry },
      { kind: 'transient', conversationId: 'c1', ts: 1, event: { type: 'typing', on: true } },
    ]);
    expect(got[0]).not.toBe(result!.entry);
    expect(errors).toEqual([new Error('listener broke'), new Error('listener broke')]);
    stop();
    await e.append(send('m2'));
    expect(got).toHaveLength(2);
  });
});

/**
 * The engine in a child process, killed with SIGKILL mid-stream: every append it acked (printed
 * after the promise resolved) must be in the file, with its job, in order, once. The child runs the
 * built engine (`npm test` builds first).
 */
describe('sqlite engine: kill -9', () => {
  const built = fileURLToPath(new URL('../../dist/engine/sqlite.js', import.meta.url));

  test('every acked append survives SIGKILL, with its job, in order, once', async () => {
    if (!existsSync(built)) throw new Error('packages/relay/dist is missing: run `npx tsc -b` (npm test does) first.');
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-child-'));
    dirs.push(dir);
    const path = join(dir, 'data', 'parley.db');
    const script = `
      import { SqliteEngine } from ${JSON.stringify(built)};
      const e = new SqliteEngine({ path: ${JSON.stringify(path)} });
      await e.start();
      await e.openConversation({ id: 'c1', siteKey: 'site', ownerKey: 'v:x', visitorId: 'x', context: {} });
      for (let i = 1; ; i++) {
        const r = await e.append({ conversationId: 'c1', entry: { kind: 'msg', id: 'm' + i, from: { role: 'visitor' }, body: { type: 'text', text: 'm' + i } },
          retention: { maxMessages: 100000, maxAgeMs: 3600000 }, webhook: 'message.created', start: true });
        process.stdout.write(r.seq + '\\n');
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let acked = 0;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    await new Promise<void>((done, fail) => {
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) acked = Math.max(acked, Number(line));
        if (acked >= 300) done();
      });
      child.on('exit', () => fail(new Error(`the child exited early: ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const e = await started({ path });
    const history = await e.read('c1', 0, 100_000);
    expect(history.lastSeq).toBeGreaterThanOrEqual(acked);
    expect(history.entries.map((x) => x.seq)).toEqual(Array.from({ length: history.lastSeq }, (_, i) => i + 1));
    expect(history.entries.map((x) => x.id)).toEqual(history.entries.map((x) => `m${x.seq}`));
    const delivered: string[] = [];
    for (let jobs = await e.claimWebhooks(1, 1000); jobs.length > 0; jobs = await e.claimWebhooks(1, 1000)) {
      const job = jobs[0]!;
      delivered.push(job.event.type === 'message.created' ? job.event.data.message.id : job.event.type);
      await e.completeWebhook(job.id, job.lease);
    }
    expect(delivered).toEqual(['conversation.started', ...history.entries.map((x) => x.id)]);
  });
});

describe('sqlite engine: group commit', () => {
  test('operations called in one turn commit together; one that fails is undone alone, the others keep their order', async () => {
    const e = await started();
    await e.openConversation(open());
    const bad = { ...send('bad'), entry: { ...msg('bad'), body: { type: 'text', text: 1n } } } as unknown as AppendRequest;
    const results = await Promise.allSettled([e.append(send('m1')), e.append(bad), e.append(send('m2')), e.setReadSeq('c1', 2)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const log = await e.read('c1', 0, 10);
    expect(log.entries.map((x) => [x.id, x.seq])).toEqual([
      ['m1', 1],
      ['m2', 2],
    ]);
    // What another connection sees is what was answered: the failed append left no entry and no
    // job behind (conversation.started, then the events of m1 and m2).
    const other = connect(e.path);
    expect((other.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n).toBe(2);
    expect((other.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n).toBe(3);
  });

  test('operations of one turn are answered after their one commit: another connection sees all of them at the first answer', async () => {
    const e = await started();
    await e.openConversation(open());
    const other = connect(e.path);
    const count = () => (other.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
    const seen: number[] = [];
    await Promise.all(['m1', 'm2', 'm3'].map((id) => e.append(send(id)).then(() => seen.push(count()))));
    expect(seen).toEqual([3, 3, 3]);
  });

  test('operations called before close still run, and are on the file for the next engine', async () => {
    const first = await started();
    await first.openConversation(open());
    const pending = first.append(send('m1'));
    await first.close();
    expect(await pending).toMatchObject({ duplicate: false, seq: 1 });
    const second = await started({ path: first.path });
    expect((await second.read('c1', 0, 10)).entries.map((x) => x.id)).toEqual(['m1']);
  });
});
