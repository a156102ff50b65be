import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DeadLetter, LIMITS, WebhookEvent, check, type ConversationEvent, type Role } from '@parley/protocol';
import { webhookJobId } from '../engine/shared.js';
import {
  PREVIEW_SCAN,
  conversationTopic,
  dedupeWindow,
  siteTopic,
  type AppendRequest,
  type AppendResult,
  type ClaimedJob,
  type DraftItem,
  type Conversation,
  type Engine,
  type FanoutItem,
  type JobError,
  type ListRequest,
  type NewEntry,
  type OpenRequest,
  type Retention,
  type StreamDeltaRequest,
  type StreamEndRequest,
  type TransientItem,
  type WebhookJob,
} from '../engine/types.js';

/** How the contract suite gets engines of one implementation. */
export interface EngineHarness {
  /** A new, empty engine (not started) that reads time from `clock`. */
  make(clock: { now: () => number }): Promise<Engine>;
  /** optional: close and reopen the same store (persistence); the suite starts the returned engine. */
  reopen?(engine: Engine, clock: { now: () => number }): Promise<Engine>;
}

const START = 1_700_000_000_000;
const DAY = 24 * 3600_000;
const LEASE = 60_000;
const keep: Retention = { maxMessages: 1000, maxAgeMs: DAY };
const failure: JobError = { code: 'WEBHOOK_FAILED', message: 'The backend answered 500.', status: 500 };

const text = (id: string, body = id, role: Role = 'visitor'): NewEntry => ({ kind: 'msg', id, from: { role }, body: { type: 'text', text: body } });
const stored = (id: string, event: ConversationEvent): NewEntry => ({ kind: 'event', id, event });
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The message id a message job is about, or the event type of other jobs. */
const label = (job: { event: WebhookEvent }): string => ('message' in job.event.data ? job.event.data.message.id : job.event.type);

/** A fixed shuffle, so a failure reproduces. */
function shuffled<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Waits (real time) for fan-out, which may be asynchronous in a networked engine. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A transient item published last on a topic: once it arrived, everything published before it has. */
const sentinel = (conversationId: string): TransientItem => ({ kind: 'transient', conversationId, ts: 1, event: { type: 'read', seq: 424242 } });
const isSentinel = (item: FanoutItem): boolean => (item.kind === 'transient' || item.kind === 'site') && item.event.type === 'read' && item.event.seq === 424242;

interface RefJob {
  id: string;
  conversationId: string;
  seq: number;
  dueAt: number;
  attempts: number;
  /** The number of the claim that leased it last; null when not leased. */
  lease: number | null;
  leaseUntil: number;
}

/**
 * The queue rules written as plainly as possible: a list per conversation in enqueue order; a claim
 * takes the first job of each conversation when it is due and not leased (or its lease ran out),
 * oldest first; a retried job stays first; complete and dead letter remove it.
 */
class ReferenceQueue {
  readonly lanes = new Map<string, RefJob[]>();
  readonly dead: string[] = [];
  readonly removed = new Map<string, string[]>();
  private seq = 0;
  private leases = 0;

  enqueue(id: string, conversationId: string, now: number): void {
    const lane = this.lanes.get(conversationId) ?? [];
    lane.push({ id, conversationId, seq: ++this.seq, dueAt: now, attempts: 0, lease: null, leaseUntil: 0 });
    this.lanes.set(conversationId, lane);
  }

  claim(now: number, max: number, leaseMs: number): RefJob[] {
    const heads = [...this.lanes.values()]
      .map((lane) => lane[0])
      .filter((job): job is RefJob => !!job && job.dueAt <= now && (job.lease === null || job.leaseUntil <= now))
      .sort((a, b) => a.seq - b.seq)
      .slice(0, Math.max(0, max));
    for (const job of heads) {
      job.lease = ++this.leases;
      job.leaseUntil = now + leaseMs;
      job.attempts++;
    }
    return heads.map((job) => ({ ...job }));
  }

  /** The earliest time a claim can return a job; null when empty. */
  nextAt(): number | null {
    const times = [...this.lanes.values()].map((lane) => (lane[0]!.lease === null ? lane[0]!.dueAt : lane[0]!.leaseUntil));
    return times.length ? Math.min(...times) : null;
  }

  /** The job leased by claim `lease`, if that lease is its current one. */
  leased(id: string, lease: number): RefJob | null {
    for (const lane of this.lanes.values()) if (lane[0]?.id === id && lane[0].lease === lease) return lane[0];
    return null;
  }

  remove(id: string, lease: number, dead: boolean): boolean {
    const job = this.leased(id, lease);
    if (!job) return false;
    const lane = this.lanes.get(job.conversationId)!;
    lane.shift();
    if (lane.length === 0) this.lanes.delete(job.conversationId);
    if (dead) this.dead.push(id);
    this.removed.set(job.conversationId, [...(this.removed.get(job.conversationId) ?? []), id]);
    return true;
  }

  retry(id: string, lease: number, dueAt: number): boolean {
    const job = this.leased(id, lease);
    if (!job) return false;
    job.lease = null;
    job.dueAt = dueAt;
    return true;
  }
}

/**
 * The engine contract: one suite every engine passes. The engine reads time from a clock the tests
 * move, so leases, due times and retention are tested without sleeping.
 */
export function describeEngine(name: string, harness: EngineHarness): void {
  describe(`engine contract: ${name}`, () => {
    const clock = { t: START };
    const view = { now: () => clock.t };
    let engine: Engine;
    let counter = 0;
    const uid = (prefix: string): string => `${prefix}${++counter}`;

    beforeEach(async () => {
      clock.t = START;
      engine = await harness.make(view);
      await engine.start();
    });

    afterEach(async () => {
      await engine.close();
    });

    function openRequest(over: Partial<OpenRequest> = {}): OpenRequest {
      const visitorId = over.visitorId ?? uid('v');
      return { id: uid('c'), siteKey: 'site1', ownerKey: `v:${visitorId}`, visitorId, context: {}, ...over };
    }

    /** Owner keys of the conversations `conversation()` opened. */
    const owners = new Map<string, string>();

    async function conversation(over: Partial<OpenRequest> = {}): Promise<string> {
      const request = openRequest(over);
      const opened = await engine.openConversation(request);
      expect(opened.created).toBe(true);
      owners.set(opened.conversation.id, request.ownerKey);
      return opened.conversation.id;
    }

    const ownerOf = (id: string): string => owners.get(id)!;

    async function append(conversationId: string, entry: NewEntry, more: Partial<AppendRequest> = {}, e: Engine = engine): Promise<AppendResult> {
      const result = await e.append({ conversationId, entry, retention: keep, ...more });
      if (!result) throw new Error(`append to ${conversationId} returned null`);
      return result;
    }

    /** Claims and completes until nothing is claimable; returns the claimed jobs in claim order. */
    async function drain(e: Engine = engine): Promise<ClaimedJob[]> {
      const all: ClaimedJob[] = [];
      for (let round = 0; round < 10_000; round++) {
        const claimed = await e.claimWebhooks(100, LEASE);
        if (claimed.length === 0) return all;
        for (const job of claimed) expect(await e.completeWebhook(job.id, job.lease)).toBe(true);
        all.push(...claimed);
      }
      throw new Error('the queue never ran dry');
    }

    /** The ids of one page, and whether a next page follows. */
    async function listIds(siteKey: string, page: ListRequest): Promise<{ ids: string[]; next: boolean }> {
      const got = await engine.listConversations(siteKey, page);
      return { ids: got.conversations.map((c) => c.id), next: got.nextCursor !== null };
    }

    /** Every page of a site's list from `cursor` on (from the newest without one). */
    async function allPages(siteKey: string, limit: number, cursor?: string): Promise<Conversation[][]> {
      const pages: Conversation[][] = [];
      for (let i = 0; i < 10_000; i++) {
        const page = await engine.listConversations(siteKey, cursor === undefined ? { limit } : { limit, cursor });
        pages.push(page.conversations);
        if (page.nextCursor === null) return pages;
        cursor = page.nextCursor;
      }
      throw new Error('the pages never ended');
    }

    async function claimOne(): Promise<ClaimedJob> {
      const claimed = await engine.claimWebhooks(1, LEASE);
      expect(claimed).toHaveLength(1);
      return claimed[0]!;
    }

    const labels = (jobs: WebhookJob[]): string[] => jobs.map(label);

    test('is ready once started, and tells time by the clock it was given', async () => {
      expect(engine.isReady()).toBe(true);
      expect(engine.name).not.toBe('');
      clock.t = START + 1234;
      expect(engine.now()).toBe(START + 1234);
    });

    // ---- shared limits ----

    test('a token bucket gives burst tokens, refills at its rate, and keeps keys apart', async () => {
      const rate = { perSecond: 2, burst: 3 };
      const key = uid('bucket:');
      const takes = async (k: string, n: number) => {
        const out: boolean[] = [];
        for (let i = 0; i < n; i++) out.push(await engine.takeToken(k, rate));
        return out;
      };
      expect(await takes(key, 4)).toEqual([true, true, true, false]);
      expect(await takes(uid('bucket:'), 1)).toEqual([true]);
      clock.t += 500;
      expect(await takes(key, 2)).toEqual([true, false]);
      clock.t += 10_000;
      expect(await takes(key, 4)).toEqual([true, true, true, false]);
    });

    test('concurrent takes from one bucket never hand out more than it holds', async () => {
      const key = uid('bucket:');
      const taken = await Promise.all(Array.from({ length: 40 }, () => engine.takeToken(key, { perSecond: 0.001, burst: 10 })));
      expect(taken.filter(Boolean)).toHaveLength(10);
    });

    test('a slot key gives at most cap slots; a release frees one for the next acquire', async () => {
      const key = uid('conn:');
      const acquires = async (n: number) => {
        const out: boolean[] = [];
        for (let i = 0; i < n; i++) out.push(await engine.acquireSlot(key, 3));
        return out;
      };
      expect(await acquires(4)).toEqual([true, true, true, false]);
      await engine.releaseSlot(key);
      expect(await acquires(2)).toEqual([true, false]);
      for (let i = 0; i < 3; i++) await engine.releaseSlot(key);
      expect(await acquires(4)).toEqual([true, true, true, false]);
    });

    test('slot keys are counted apart, and releasing more than was taken never makes room beyond the cap', async () => {
      const a = uid('conn:');
      const b = uid('conn:');
      expect([await engine.acquireSlot(a, 1), await engine.acquireSlot(a, 1)]).toEqual([true, false]);
      expect([await engine.acquireSlot(b, 2), await engine.acquireSlot(b, 2), await engine.acquireSlot(b, 2)]).toEqual([true, true, false]);
      for (let i = 0; i < 3; i++) await engine.releaseSlot(a);
      await engine.releaseSlot(uid('conn:'));
      expect([await engine.acquireSlot(a, 1), await engine.acquireSlot(a, 1)]).toEqual([true, false]);
      expect(await engine.acquireSlot(b, 2)).toBe(false);
    });

    test('30 concurrent acquires of one key with cap 10 take exactly 10 slots', async () => {
      const key = uid('conn:');
      const taken = await Promise.all(Array.from({ length: 30 }, () => engine.acquireSlot(key, 10)));
      expect(taken.filter(Boolean)).toHaveLength(10);
      expect(await engine.acquireSlot(key, 10)).toBe(false);
      await Promise.all(Array.from({ length: 10 }, () => engine.releaseSlot(key)));
      const again = await Promise.all(Array.from({ length: 30 }, () => engine.acquireSlot(key, 10)));
      expect(again.filter(Boolean)).toHaveLength(10);
    });

    // ---- log ----

    test('append numbers entries 1..n in order and stamps them with the engine clock', async () => {
      const c = await conversation();
      const results: AppendResult[] = [];
      for (let i = 1; i <= 5; i++) {
        clock.t = START + i * 10;
        results.push(await append(c, text(`m${i}`)));
      }
      expect(results.map((r) => [r.duplicate, r.seq, r.ts])).toEqual(range(1, 5).map((i) => [false, i, START + i * 10]));
      expect(results[0]!.entry).toEqual({ kind: 'msg', id: 'm1', seq: 1, ts: START + 10, from: { role: 'visitor' }, body: { type: 'text', text: 'm1' } });
      const page = await engine.read(c, 0, 100);
      expect(page.entries.map((e) => [e.id, e.seq, e.ts])).toEqual(range(1, 5).map((i) => [`m${i}`, i, START + i * 10]));
      expect(page).toMatchObject({ lastSeq: 5, hasMore: false });
      expect((await engine.getConversation(c))!.lastSeq).toBe(5);
    });

    test('concurrent appends to one conversation get consecutive seqs, each once', async () => {
      const c = await conversation();
      const results = await Promise.all(range(1, 30).map((i) => append(c, text(`m${i}`))));
      expect(results.map((r) => r.seq).sort((a, b) => a - b)).toEqual(range(1, 30));
      expect((await engine.read(c, 0, 100)).entries.map((e) => e.seq)).toEqual(range(1, 30));
    });

    test('append to an unknown conversation returns null and stores nothing', async () => {
      const result = await engine.append({ conversationId: 'nope', entry: text('m1'), retention: keep, webhook: 'message.created', start: true });
      expect(result).toBeNull();
      expect(await engine.read('nope', 0, 10)).toEqual({ entries: [], lastSeq: 0, hasMore: false });
      expect(await engine.countConversations()).toBe(0);
      expect(await engine.nextWebhookAt()).toBeNull();
    });

    test('a repeated entry id is a duplicate with the original seq, ts and stored entry, and changes nothing', async () => {
      const c = await conversation();
      clock.t = START + 1;
      const first = await append(c, text('a', 'first'));
      clock.t = START + 500;
      const again = await append(c, text('a', 'changed'));
      expect(again).toEqual({ duplicate: true, seq: 1, ts: START + 1, entry: first.entry });
      expect(await engine.read(c, 0, 10)).toEqual({ entries: [first.entry], lastSeq: 1, hasMore: false });
      expect((await append(c, text('b'))).seq).toBe(2);
    });

    test('an id trimmed by retention but within the dedupe window stays a duplicate, with entry null', async () => {
      const c = await conversation();
      const small = { maxMessages: 3, maxAgeMs: DAY };
      for (let i = 1; i <= 10; i++) await append(c, text(`m${i}`), { retention: small });
      clock.t = START + 10;
      expect(await append(c, text('m1', 'again'), { retention: small })).toEqual({ duplicate: true, entry: null, seq: 1, ts: START });
      expect(await append(c, text('m9', 'again'), { retention: small })).toMatchObject({ duplicate: true, seq: 9, entry: { id: 'm9', body: { text: 'm9' } } });
      expect(await engine.read(c, 0, 100)).toMatchObject({ lastSeq: 10, entries: [{ id: 'm8' }, { id: 'm9' }, { id: 'm10' }] });
    });

    test('an id older than the last dedupeWindow appends is appended again as a new entry', async () => {
      const c = await conversation();
      const small = { maxMessages: 3, maxAgeMs: DAY };
      const window = dedupeWindow(small);
      for (let i = 1; i <= window + 1; i++) await append(c, text(`m${i}`), { retention: small });
      // m2 is the oldest of the last `window` appends; m1 fell out of the window.
      expect(await append(c, text('m2'), { retention: small })).toMatchObject({ duplicate: true, seq: 2, entry: null });
      expect(await append(c, text('m1'), { retention: small })).toMatchObject({ duplicate: false, seq: window + 2, entry: { id: 'm1' } });
    });

    test('reads page through 450 entries 200 at a time, each once and in order', async () => {
      const c = await conversation();
      for (let i = 1; i <= 450; i++) await append(c, text(`m${i}`));
      const seqs: number[] = [];
      const more: boolean[] = [];
      let after = 0;
      for (let page = 0; page < 10; page++) {
        const { entries, hasMore, lastSeq } = await engine.read(c, after, 200);
        expect(lastSeq).toBe(450);
        seqs.push(...entries.map((e) => e.seq));
        more.push(hasMore);
        if (!hasMore) break;
        after = entries[entries.length - 1]!.seq;
      }
      expect(seqs).toEqual(range(1, 450));
      expect(more).toEqual([true, true, false]);
      expect(await engine.read(c, 448, 1)).toMatchObject({ entries: [{ seq: 449 }], hasMore: true });
      expect(await engine.read(c, 449, 1)).toMatchObject({ entries: [{ seq: 450 }], hasMore: false });
      expect(await engine.read(c, 450, 200)).toEqual({ entries: [], lastSeq: 450, hasMore: false });
    });

    test('retention by count keeps the newest maxMessages: reads return only those, lastSeq stays', async () => {
      const c = await conversation();
      const five = { maxMessages: 5, maxAgeMs: DAY };
      for (let i = 1; i <= 12; i++) await append(c, text(`m${i}`), { retention: five });
      const all = await engine.read(c, 0, 100);
      expect(all.entries.map((e) => e.seq)).toEqual(range(8, 12));
      expect(all).toMatchObject({ lastSeq: 12, hasMore: false });
      expect(await engine.read(c, 3, 2)).toMatchObject({ entries: [{ seq: 8 }, { seq: 9 }], hasMore: true, lastSeq: 12 });
      expect((await engine.read(c, 9, 100)).entries.map((e) => e.seq)).toEqual([10, 11, 12]);
      expect((await engine.getConversation(c))!.lastSeq).toBe(12);
    });

    test('retention by age drops entries older than maxAgeMs when the log is next appended to', async () => {
      const c = await conversation();
      const minute = { maxMessages: 100, maxAgeMs: 60_000 };
      for (let i = 1; i <= 3; i++) await append(c, text(`m${i}`), { retention: minute });
      clock.t = START + 30_000;
      for (let i = 4; i <= 5; i++) await append(c, text(`m${i}`), { retention: minute });
      clock.t = START + 61_000;
      await append(c, text('m6'), { retention: minute });
      expect(await engine.read(c, 0, 100)).toMatchObject({ lastSeq: 6, hasMore: false, entries: [{ seq: 4 }, { seq: 5 }, { seq: 6 }] });
      clock.t = START + 200_000;
      await append(c, text('m7'), { retention: minute });
      expect(await engine.read(c, 0, 100)).toMatchObject({ lastSeq: 7, hasMore: false, entries: [{ seq: 7 }] });
      expect((await engine.read(c, 0, 100)).entries).toHaveLength(1);
    });

    // ---- conversations ----

    test('50 concurrent opens for one owner with 50 different ids give one conversation, created once', async () => {
      const requests = range(1, 50).map((i) => openRequest({ id: `race${i}`, visitorId: 'racer', ownerKey: 'u:racer' }));
      const results = await Promise.all(requests.map((r) => engine.openConversation(r)));
      const ids = new Set(results.map((r) => r.conversation.id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const [id] = ids;
      expect(requests.map((r) => r.id)).toContain(id);
      expect(await engine.countConversations()).toBe(1);
      expect(await engine.currentConversation('site1', 'u:racer')).toBe(id);
    });

    test('open returns the conversation with the requested id when it exists, for any owner and despite replace (rule 1)', async () => {
      const first = await engine.openConversation(openRequest({ id: 'known', visitorId: 'v1', ownerKey: 'v:v1', context: { page: { title: 'Home' } } }));
      const again = await engine.openConversation(
        openRequest({ id: 'known', visitorId: 'v2', ownerKey: 'v:v2', replace: true, context: { page: { title: 'Other' } } }),
      );
      expect(again).toEqual({ created: false, conversation: first.conversation });
      expect(await engine.currentConversation('site1', 'v:v2')).toBeNull();
      expect(await engine.countConversations()).toBe(1);
    });

    test("open returns the owner's open current conversation for a new id (rule 2)", async () => {
      const c = await conversation({ visitorId: 'v1', ownerKey: 'u:ann' });
      const other = await engine.openConversation(openRequest({ id: 'fresh', visitorId: 'v2', ownerKey: 'u:ann' }));
      expect(other).toMatchObject({ created: false, conversation: { id: c, visitorId: 'v1' } });
      expect(await engine.getConversation('fresh')).toBeNull();
    });

    test("open with replace creates the requested conversation and makes it the owner's current one", async () => {
      const c = await conversation({ ownerKey: 'u:ann' });
      const replaced = await engine.openConversation(openRequest({ id: 'fresh', ownerKey: 'u:ann', replace: true }));
      expect(replaced).toMatchObject({ created: true, conversation: { id: 'fresh', started: false, closed: false, readSeq: 0, lastSeq: 0 } });
      expect(await engine.currentConversation('site1', 'u:ann')).toBe('fresh');
      expect(await engine.getConversation(c)).not.toBeNull();
      expect(await engine.countConversations()).toBe(2);
    });

    test('open does not reuse a closed current conversation', async () => {
      const c = await conversation({ ownerKey: 'u:ann' });
      await append(c, stored('bye', { type: 'closed', reason: 'done' }));
      const next = await engine.openConversation(openRequest({ id: 'next', ownerKey: 'u:ann' }));
      expect(next).toMatchObject({ created: true, conversation: { id: 'next', closed: false } });
      expect(await engine.currentConversation('site1', 'u:ann')).toBe('next');
    });

    test('owners are kept apart per site and per owner key', async () => {
      const a = await conversation({ siteKey: 'site1', ownerKey: 'v:same' });
      const b = await conversation({ siteKey: 'site2', ownerKey: 'v:same' });
      const c = await conversation({ siteKey: 'site1', ownerKey: 'v:other' });
      expect(await engine.currentConversation('site1', 'v:same')).toBe(a);
      expect(await engine.currentConversation('site2', 'v:same')).toBe(b);
      expect(await engine.currentConversation('site1', 'v:other')).toBe(c);
      expect(await engine.currentConversation('site2', 'v:other')).toBeNull();
    });

    test('a new conversation holds what the request gave it, stamped by the engine clock', async () => {
      clock.t = START + 77;
      const identity = { userId: 'ann', name: 'Ann', attrs: { tier: 'gold' }, verified: true };
      const opened = await engine.openConversation(
        openRequest({ id: 'c1', visitorId: 'v1', ownerKey: 'u:ann', identity, context: { page: { url: 'https://shop.example/' } } }),
      );
      const expected = {
        id: 'c1',
        siteKey: 'site1',
        visitorId: 'v1',
        createdAt: START + 77,
        started: false,
        closed: false,
        context: { page: { url: 'https://shop.example/' } },
        identity,
        readSeq: 0,
        peerReadSeq: 0,
        lastSeq: 0,
      };
      expect(opened).toEqual({ created: true, conversation: expected });
      expect(await engine.getConversation('c1')).toEqual(expected);
    });

    test('stored values are copies: changing a request or a returned object changes nothing stored', async () => {
      const request = openRequest({ context: { attrs: { plan: 'gold' } } });
      const opened = await engine.openConversation(request);
      const c = opened.conversation.id;
      request.context.attrs!.plan = 'changed';
      opened.conversation.context.attrs!.plan = 'changed';
      opened.conversation.readSeq = 99;
      const entry = text('m1', 'hello');
      const appended = await append(c, entry);
      entry.id = 'changed';
      if (appended.entry?.kind === 'msg') appended.entry.body = { type: 'text', text: 'changed' };
      const page = await engine.read(c, 0, 10);
      if (page.entries[0]!.kind === 'msg') page.entries[0]!.body = { type: 'text', text: 'changed' };
      const patch = { attrs: { cart: 3 } };
      await engine.mergeContext(c, patch, 10_000);
      patch.attrs.cart = 4;
      const got = (await engine.getConversation(c))!;
      got.context.attrs!.plan = 'changed';
      got.readSeq = 50;
      (await engine.listConversations('site1', { limit: 10 })).conversations[0]!.lastSeq = 50;
      expect(await engine.getConversation(c)).toMatchObject({ readSeq: 0, lastSeq: 1, context: { attrs: { plan: 'gold', cart: 3 } } });
      expect(await engine.read(c, 0, 10)).toMatchObject({ entries: [{ id: 'm1', body: { type: 'text', text: 'hello' } }] });
    });

    // ---- context, identity, read seq ----

    test('concurrent merges from two tabs and 20 attribute writers lose nothing', async () => {
      const c = await conversation({ context: { page: { title: 'Start' }, attrs: { plan: 'gold' } } });
      const results = await Promise.all([
        engine.mergeContext(c, { page: { url: 'https://shop.example/a', title: 'A' } }, 64_000),
        engine.mergeContext(c, { product: { title: 'Shoe', price: '€49.00' } }, 64_000),
        ...range(0, 19).map((i) => engine.mergeContext(c, { attrs: { [`k${i}`]: i } }, 64_000)),
      ]);
      expect(results.every((r) => r?.ok)).toBe(true);
      const attrs = Object.fromEntries([['plan', 'gold'], ...range(0, 19).map((i) => [`k${i}`, i])]);
      expect((await engine.getConversation(c))!.context).toEqual({
        page: { url: 'https://shop.example/a', title: 'A' },
        product: { title: 'Shoe', price: '€49.00' },
        attrs,
      });
    });

    test('a merge whose patch alone exceeds the byte or attribute limit is refused and changes nothing', async () => {
      const c = await conversation({ context: { attrs: { plan: 'gold' } } });
      await append(c, text('m1'), { webhook: 'message.created', start: true });
      await drain();
      const before = await engine.getConversation(c);
      const big = await engine.mergeContext(c, { page: { title: 'x'.repeat(300) }, attrs: { cart: 1 } }, 256);
      expect(big).toMatchObject({ ok: false, code: 'TOO_LARGE' });
      const many = Object.fromEntries(range(0, LIMITS.maxAttrs).map((i) => [`k${i}`, i]));
      expect(await engine.mergeContext(c, { attrs: many }, 64_000)).toMatchObject({ ok: false, code: 'TOO_LARGE' });
      expect(await engine.getConversation(c)).toEqual(before);
      expect(await engine.nextWebhookAt()).toBeNull();
    });

    test('a merge past the attribute or byte limit drops the oldest stored attributes the patch does not name', async () => {
      const full = Object.fromEntries(range(1, LIMITS.maxAttrs).map((i) => [`k${i}`, i]));
      const c = await conversation({ context: { attrs: full } });
      const merged = await engine.mergeContext(c, { attrs: { k1: 'renewed', extra: true } }, 64_000);
      const expected: Record<string, string | number | boolean> = { ...full, k1: 'renewed', extra: true };
      delete expected.k2;
      expect(merged).toMatchObject({ ok: true });
      expect((await engine.getConversation(c))!.context.attrs).toEqual(expected);

      const d = await conversation({ context: { attrs: { a: 'x'.repeat(100), b: 'y'.repeat(100) } } });
      expect(await engine.mergeContext(d, { attrs: { c: 'z'.repeat(100) } }, 300)).toMatchObject({ ok: true });
      expect((await engine.getConversation(d))!.context.attrs).toEqual({ b: 'y'.repeat(100), c: 'z'.repeat(100) });
    });

    test('context.updated is enqueued only once the conversation has started and the merge is not quiet, carrying the merged context', async () => {
      const c = await conversation();
      expect(await engine.mergeContext(c, { page: { title: 'Home' } }, 64_000)).toMatchObject({ ok: true, conversation: { context: { page: { title: 'Home' } } } });
      expect(await engine.nextWebhookAt()).toBeNull();
      expect(await engine.claimWebhooks(10, LEASE)).toEqual([]);
      await append(c, text('m1'), { webhook: 'message.created', start: true });
      expect(labels(await drain())).toEqual(['conversation.started', 'm1']);
      clock.t = START + 5;
      expect(await engine.mergeContext(c, { page: { title: 'Quiet' } }, 64_000, true)).toMatchObject({ ok: true, conversation: { context: { page: { title: 'Quiet' } } } });
      expect(await engine.nextWebhookAt()).toBeNull();
      await engine.mergeContext(c, { page: { title: 'Home' } }, 64_000, true);
      await engine.mergeContext(c, { product: { title: 'Shoe' } }, 64_000);
      const [job, ...rest] = await drain();
      expect(rest).toEqual([]);
      expect(job).toMatchObject({ conversationId: c, siteKey: 'site1', enqueuedAt: START + 5 });
      expect(job!.event).toMatchObject({ id: job!.id, type: 'context.updated', data: { context: { page: { title: 'Home' }, product: { title: 'Shoe' } } } });
      expect(check(WebhookEvent, job!.event)).toMatchObject({ ok: true });
    });

    test('operations on an unknown conversation return null', async () => {
      expect(await engine.getConversation('nope')).toBeNull();
      expect(await engine.mergeContext('nope', { page: { title: 'x' } }, 64_000)).toBeNull();
      expect(await engine.setIdentity('nope', { userId: 'u', verified: false })).toBeNull();
      expect(await engine.setReadSeq('nope', 3)).toBeNull();
      expect(await engine.setPeerReadSeq('nope', 3)).toBeNull();
      expect(await engine.currentConversation('site1', 'v:nobody')).toBeNull();
    });

    test('setIdentity replaces the identity, and later webhook events carry it', async () => {
      const c = await conversation({ identity: { userId: 'ann', attrs: { tier: 'silver' }, verified: false } });
      const identity = { userId: 'ann', name: 'Ann', email: 'ann@example.com', verified: true };
      expect(await engine.setIdentity(c, identity)).toMatchObject({ id: c, identity });
      expect((await engine.getConversation(c))!.identity).toEqual(identity);
      await append(c, text('m1'), { webhook: 'message.created' });
      const [job] = await drain();
      expect(job!.event.visitor).toEqual({ id: (await engine.getConversation(c))!.visitorId, identity, readSeq: 0 });
      expect(check(WebhookEvent, job!.event)).toMatchObject({ ok: true });
    });

    test('setReadSeq never lowers the read seq, even with 100 concurrent calls in random order', async () => {
      const c = await conversation();
      const seqs = shuffled(range(1, 100));
      const results = await Promise.all(seqs.map((s) => engine.setReadSeq(c, s)));
      results.forEach((stored, i) => expect(stored).toBeGreaterThanOrEqual(seqs[i]!));
      expect((await engine.getConversation(c))!.readSeq).toBe(100);
      expect(await engine.setReadSeq(c, 5)).toBe(100);
      expect((await engine.getConversation(c))!.readSeq).toBe(100);
    });

    test("the site side's read mark never lowers either, and is apart from the visitor's", async () => {
      const c = await conversation();
      const seqs = shuffled(range(1, 50));
      const results = await Promise.all(seqs.map((s) => engine.setPeerReadSeq(c, s)));
      results.forEach((stored, i) => expect(stored).toBeGreaterThanOrEqual(seqs[i]!));
      expect(await engine.setPeerReadSeq(c, 7)).toBe(50);
      await engine.setReadSeq(c, 3);
      expect(await engine.getConversation(c)).toMatchObject({ peerReadSeq: 50, readSeq: 3 });
      expect((await engine.listConversations('site1', { limit: 10 })).conversations.find((x) => x.id === c)).toMatchObject({ peerReadSeq: 50 });
    });

    test('webhook events carry the read seq the conversation had when they were queued', async () => {
      const c = await conversation();
      await append(c, text('m1'), { webhook: 'message.created', start: true });
      await append(c, text('b1', 'hello', 'bot'));
      await engine.setReadSeq(c, 2);
      await append(c, text('m2'), { webhook: 'message.created', start: true });
      expect(await engine.mergeContext(c, { page: { title: 'Cart' } }, 64_000)).toMatchObject({ ok: true });
      const jobs = await drain();
      expect(jobs.map((j) => [j.event.type, j.event.visitor.readSeq])).toEqual([
        ['conversation.started', 0],
        ['message.created', 0],
        ['message.created', 2],
        ['context.updated', 2],
      ]);
      for (const job of jobs) expect(check(WebhookEvent, job.event)).toMatchObject({ ok: true });
    });

    // ---- a visitor who signs in mid-chat ----

    const user = { userId: 'u_1001', name: 'Ana', verified: true };

    test("adopt hands an anonymous visitor's conversation to the user, makes it current, and queues visitor.identified after its events", async () => {
      const c = await conversation({ visitorId: 'va', context: { page: { title: 'Home' } } });
      await append(c, text('m1'), { webhook: 'message.created', start: true });
      clock.t = START + 500;
      const adopted = await engine.adoptConversation({ id: c, siteKey: 'site1', fromOwnerKey: 'v:va', ownerKey: 'u:u_1001', identity: user });
      expect(adopted).toEqual({ status: 'adopted', conversation: expect.objectContaining({ id: c, visitorId: 'va', identity: user }) });
      expect(await engine.currentConversation('site1', 'u:u_1001')).toBe(c);
      expect(await engine.currentConversation('site1', 'v:va')).toBeNull();
      // A new device of the user opens the adopted conversation (rule 2 of open).
      expect((await engine.openConversation(openRequest({ ownerKey: 'u:u_1001' }))).conversation.id).toBe(c);
      const jobs = await drain();
      expect(labels(jobs)).toEqual(['conversation.started', 'm1', 'visitor.identified']);
      const identified = jobs[2]!.event;
      expect(identified).toMatchObject({ type: 'visitor.identified', conversationId: c, createdAt: START + 500, data: {}, visitor: { id: 'va', identity: user } });
      expect(check(WebhookEvent, identified)).toMatchObject({ ok: true });
      // Signing in again on that conversation changes nothing and queues nothing.
      expect(await engine.adoptConversation({ id: c, siteKey: 'site1', fromOwnerKey: 'v:va', ownerKey: 'u:u_1001', identity: user })).toMatchObject({ status: 'adopted' });
      expect(await drain()).toEqual([]);
    });

    test("adopt keeps the user's other open conversation open and names it as linked; a conversation not started queues nothing", async () => {
      const old = await conversation({ ownerKey: 'u:u_1001', identity: user });
      await append(old, text('o1'), { webhook: 'message.created', start: true });
      const fresh = await conversation({ visitorId: 'vb' });
      expect(await engine.adoptConversation({ id: fresh, siteKey: 'site1', fromOwnerKey: 'v:vb', ownerKey: 'u:u_1001', identity: user })).toMatchObject({
        status: 'adopted',
        linkedId: old,
      });
      expect(await engine.currentConversation('site1', 'u:u_1001')).toBe(fresh);
      expect((await engine.getConversation(old))!.closed).toBe(false);
      expect(labels(await drain())).toEqual(['conversation.started', 'o1']);
      // Once started, the adopted conversation's events carry the user.
      await append(fresh, text('f1'), { webhook: 'message.created', start: true });
      const jobs = await drain();
      expect(jobs.map((j) => j.event.visitor.identity?.userId)).toEqual(['u_1001', 'u_1001']);
    });

    test("adopt is refused for another visitor's, another site's, a closed or an unknown conversation, and changes nothing", async () => {
      const c = await conversation({ visitorId: 'vc' });
      const other = { siteKey: 'site1', ownerKey: 'u:u_1001', identity: user };
      expect(await engine.adoptConversation({ ...other, id: c, fromOwnerKey: 'v:someone-else' })).toEqual({ status: 'refused' });
      expect(await engine.adoptConversation({ ...other, id: c, siteKey: 'site2', fromOwnerKey: 'v:vc' })).toEqual({ status: 'refused' });
      expect(await engine.adoptConversation({ ...other, id: 'nope', fromOwnerKey: 'v:vc' })).toEqual({ status: 'refused' });
      const closed = await conversation({ visitorId: 'vd' });
      await append(closed, stored('e1', { type: 'closed' }));
      expect(await engine.adoptConversation({ ...other, id: closed, fromOwnerKey: 'v:vd' })).toEqual({ status: 'refused' });
      expect(await engine.currentConversation('site1', 'u:u_1001')).toBeNull();
      expect(await engine.currentConversation('site1', 'v:vc')).toBe(c);
      expect((await engine.getConversation(c))!.identity).toBeUndefined();
    });

    test('20 concurrent sign-ins of one conversation, racing two users and an open on the user, adopt it once and queue one visitor.identified', async () => {
      const c = await conversation({ visitorId: 've' });
      await append(c, text('m1'), { webhook: 'message.created', start: true });
      const ana = { siteKey: 'site1', id: c, fromOwnerKey: 'v:ve', ownerKey: 'u:ana', identity: { userId: 'ana', verified: true } };
      const bob = { ...ana, ownerKey: 'u:bob', identity: { userId: 'bob', verified: true } };
      const results = await Promise.all([
        ...Array.from({ length: 10 }, () => engine.adoptConversation(ana)),
        ...Array.from({ length: 10 }, () => engine.adoptConversation(bob)),
        engine.openConversation(openRequest({ ownerKey: 'u:ana' })),
      ]);
      const adoptions = results.slice(0, 20) as Awaited<ReturnType<Engine['adoptConversation']>>[];
      const winners = adoptions.filter((r) => r.status === 'adopted');
      // Every sign-in of the winning user is adopted (the later ones are no-ops), every one of the other refused.
      expect(winners.length).toBe(10);
      const winner = (await engine.getConversation(c))!.identity!.userId;
      expect(['ana', 'bob']).toContain(winner);
      expect(await engine.currentConversation('site1', `u:${winner}`)).toBe(c);
      expect(await engine.currentConversation('site1', `u:${winner === 'ana' ? 'bob' : 'ana'}`)).not.toBe(c);
      expect(await engine.currentConversation('site1', 'v:ve')).toBeNull();
      const jobs = await drain();
      expect(labels(jobs)).toEqual(['conversation.started', 'm1', 'visitor.identified']);
      expect(jobs[2]!.event.visitor.identity?.userId).toBe(winner);
    });

    // ---- an owner's past conversations ----

    test("ownerConversations lists an owner's conversations newest first, at most limit, each with its newest message", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        clock.t = START + i * 1000;
        ids.push(await conversation({ ownerKey: 'u:ann', replace: true }));
      }
      await append(ids[0]!, text('a1', 'First question'));
      await append(ids[0]!, text('a2', 'Thanks, bye', 'agent'));
      await append(ids[0]!, stored('a3', { type: 'closed' }));
      await append(ids[1]!, stored('b1', { type: 'agent_joined', agent: { role: 'agent', name: 'Mia' } }));
      await append(ids[2]!, text('c1', 'Where is my order?'));
      const all = await engine.ownerConversations('site1', 'u:ann', 20);
      expect(all.map((c) => c.id)).toEqual([ids[2], ids[1], ids[0]]);
      expect(all[0]).toEqual({ id: ids[2], createdAt: START + 2000, closed: false, lastSeq: 1, last: expect.objectContaining({ kind: 'msg', id: 'c1', seq: 1 }) });
      // Events only: no message to preview.
      expect(all[1]).toMatchObject({ id: ids[1], lastSeq: 1, last: null });
      // The closed event is newer: the preview is the message before it.
      expect(all[2]).toMatchObject({ id: ids[0], createdAt: START, closed: true, lastSeq: 3, last: { id: 'a2', seq: 2, from: { role: 'agent' }, body: { type: 'text', text: 'Thanks, bye' } } });
      expect((await engine.ownerConversations('site1', 'u:ann', 2)).map((c) => c.id)).toEqual([ids[2], ids[1]]);
      expect(await engine.ownerConversations('site1', 'u:ann', 0)).toEqual([]);
      expect(await engine.ownerConversations('site1', 'u:nobody', 20)).toEqual([]);
    });

    test("ownerConversations keeps owners apart per site and owner key: another visitor's or site's conversations never show", async () => {
      const mine = await conversation({ ownerKey: 'v:me' });
      const theirs = await conversation({ ownerKey: 'v:them' });
      const elsewhere = await conversation({ siteKey: 'site2', ownerKey: 'v:me' });
      const user = await conversation({ ownerKey: 'u:me' });
      for (const id of [mine, theirs, elsewhere, user]) await append(id, text(`m-${id}`));
      expect((await engine.ownerConversations('site1', 'v:me', 20)).map((c) => c.id)).toEqual([mine]);
      expect((await engine.ownerConversations('site1', 'v:them', 20)).map((c) => c.id)).toEqual([theirs]);
      expect((await engine.ownerConversations('site2', 'v:me', 20)).map((c) => c.id)).toEqual([elsewhere]);
      expect((await engine.ownerConversations('site1', 'u:me', 20)).map((c) => c.id)).toEqual([user]);
      expect(await engine.ownerConversations('site2', 'v:them', 20)).toEqual([]);
    });

    test("an adopted conversation moves to the user's list, on any device; a forgotten one leaves it", async () => {
      clock.t = START;
      const old = await conversation({ visitorId: 'va', ownerKey: 'v:va' });
      await append(old, stored('x1', { type: 'closed' }));
      clock.t = START + 10;
      const onScreen = await conversation({ visitorId: 'va', ownerKey: 'v:va', replace: true });
      clock.t = START + 20;
      const userOwn = await conversation({ ownerKey: 'u:u_1001' });
      await append(userOwn, text('u1'));
      expect(await engine.adoptConversation({ id: onScreen, siteKey: 'site1', fromOwnerKey: 'v:va', ownerKey: 'u:u_1001', identity: user })).toMatchObject({ status: 'adopted' });
      expect((await engine.ownerConversations('site1', 'u:u_1001', 20)).map((c) => c.id)).toEqual([userOwn, onScreen]);
      // The closed one was not adopted: it stays the anonymous visitor's.
      expect((await engine.ownerConversations('site1', 'v:va', 20)).map((c) => c.id)).toEqual([old]);
      // Never appended to: forgotten once its TTL passed, and gone from the list.
      clock.t = START + DAY + 100;
      await append(userOwn, text('u2'));
      await append(old, text('x3'));
      await (engine as Engine & { sweep(): unknown }).sweep();
      expect(await engine.getConversation(onScreen)).toBeNull();
      expect((await engine.ownerConversations('site1', 'u:u_1001', 20)).map((c) => c.id)).toEqual([userOwn]);
    });

    test('the preview is the newest message among the last PREVIEW_SCAN entries the log still holds', async () => {
      const c = await conversation();
      await append(c, text('m1', 'Hello'));
      for (let i = 0; i < PREVIEW_SCAN - 1; i++) await append(c, stored(`e${i}`, { type: 'handoff', state: 'requested' }));
      expect((await engine.ownerConversations('site1', ownerOf(c), 1))[0]!.last).toMatchObject({ id: 'm1' });
      await append(c, stored('late', { type: 'closed' }));
      expect((await engine.ownerConversations('site1', ownerOf(c), 1))[0]).toMatchObject({ lastSeq: PREVIEW_SCAN + 1, closed: true, last: null });
      // Retention dropped the message: nothing to preview either.
      const d = await conversation();
      await append(d, text('d1', 'Gone soon'), { retention: { maxMessages: 2, maxAgeMs: DAY } });
      await append(d, stored('d2', { type: 'closed' }), { retention: { maxMessages: 2, maxAgeMs: DAY } });
      await append(d, stored('d3', { type: 'closed' }), { retention: { maxMessages: 2, maxAgeMs: DAY } });
      expect((await engine.ownerConversations('site1', ownerOf(d), 1))[0]).toMatchObject({ id: d, lastSeq: 3, last: null });
    });

    test('conversations of one owner opened in one millisecond list in the order listConversations gives them', async () => {
      clock.t = START;
      for (let i = 0; i < 6; i++) await conversation({ ownerKey: 'u:tie', replace: true });
      const site = (await engine.listConversations('site1', { limit: 100 })).conversations.map((c) => c.id);
      expect((await engine.ownerConversations('site1', 'u:tie', 20)).map((c) => c.id)).toEqual(site);
    });

    // ---- webhooks enqueued by appends ----

    test('20 concurrent first messages with start enqueue conversation.started once, first, then each message in seq order', async () => {
      const c = await conversation();
      await Promise.all(Array.from({ length: 20 }, (_, i) => append(c, text(`m${i}`, `hi ${i}`), { webhook: 'message.created', start: true })));
      const jobs = await drain();
      const bySeq = (await engine.read(c, 0, 100)).entries.map((e) => e.id);
      expect(labels(jobs)).toEqual(['conversation.started', ...bySeq]);
    });

    test('a first message with start enqueues conversation.started, then message.created, and marks the conversation started', async () => {
      const c = await conversation({ context: { page: { title: 'Home' } } });
      clock.t = START + 100;
      await append(c, text('m1', 'hello'), { webhook: 'message.created', start: true });
      expect((await engine.getConversation(c))!.started).toBe(true);
      const started = await claimOne();
      expect(started.event).toMatchObject({ type: 'conversation.started', conversationId: c, siteKey: 'site1', createdAt: START + 100, data: { context: { page: { title: 'Home' } } } });
      expect(await engine.claimWebhooks(10, LEASE)).toEqual([]);
      expect(await engine.completeWebhook(started.id, started.lease)).toBe(true);
      const message = await claimOne();
      expect(message.event).toMatchObject({
        type: 'message.created',
        data: { message: { seq: 1, id: 'm1', ts: START + 100, from: { role: 'visitor' }, body: { type: 'text', text: 'hello' } } },
      });
      for (const job of [started, message]) {
        expect(job).toMatchObject({ siteKey: 'site1', conversationId: c, enqueuedAt: START + 100, attempts: 1 });
        expect(job.id).toBe(job.event.id);
        expect(check(WebhookEvent, job.event)).toMatchObject({ ok: true });
      }
      expect(await engine.completeWebhook(message.id, message.lease)).toBe(true);
      await append(c, text('m2'), { webhook: 'message.created', start: true });
      expect(labels(await drain())).toEqual(['m2']);
    });

    test('a text of control characters, quotes and non-ASCII is stored, read, delivered and carried by its webhook as it was', async () => {
      const c = await conversation();
      const odd = 'a\u001fb\u001ec\u0000d\n"e"\\ f\u2028 好 😀 \u001f';
      const first = await append(c, text('m1', odd), { webhook: 'message.created' });
      const second = await append(c, text('m2', '\u001f'), { webhook: 'message.created' });
      expect(first).toMatchObject({ duplicate: false, seq: 1, entry: { body: { text: odd } } });
      expect(second).toMatchObject({ duplicate: false, seq: 2, entry: { body: { text: '\u001f' } } });
      expect((await engine.read(c, 0, 10)).entries.map((e) => (e.kind === 'msg' && e.body.type === 'text' ? e.body.text : null))).toEqual([odd, '\u001f']);
      const jobs = await drain();
      expect(jobs.map((j) => (j.event.data as { message: { body: { text: string } } }).message.body.text)).toEqual([odd, '\u001f']);
    });

    test('job ids derive from the entry, and a redone append enqueues nothing more', async () => {
      const c = await conversation();
      await append(c, text('m1'), { webhook: 'postback', start: true });
      expect(await append(c, text('m1'), { webhook: 'postback', start: true })).toMatchObject({ duplicate: true });
      const jobs = await drain();
      expect(jobs.map((j) => j.id)).toEqual([webhookJobId(c, 'm1', 'conversation.started'), webhookJobId(c, 'm1', 'postback')]);
      expect(jobs[1]!.event.type).toBe('postback');
      expect(await append(c, text('m1'), { webhook: 'postback', start: true })).toMatchObject({ duplicate: true });
      expect(await engine.nextWebhookAt()).toBeNull();
    });

    test('appends asked for at once each get their own answer, stored in call order', async () => {
      const a = await conversation();
      const b = await conversation();
      const results = await Promise.all([
        engine.append({ conversationId: a, entry: text('a1'), retention: keep, webhook: 'message.created' }),
        engine.append({ conversationId: 'no-such-conversation', entry: text('x1'), retention: keep }),
        engine.append({ conversationId: b, entry: text('b1'), retention: keep }),
        engine.append({ conversationId: a, entry: text('a2'), retention: keep, webhook: 'message.created' }),
        engine.append({ conversationId: a, entry: text('a1'), retention: keep, webhook: 'message.created' }),
      ]);
      expect(results.map((r) => (r ? { duplicate: r.duplicate, seq: r.seq } : null))).toEqual([
        { duplicate: false, seq: 1 },
        null,
        { duplicate: false, seq: 1 },
        { duplicate: false, seq: 2 },
        { duplicate: true, seq: 1 },
      ]);
      expect((await engine.read(a, 0, 10)).entries.map((e) => e.id)).toEqual(['a1', 'a2']);
      expect((await engine.read(b, 0, 10)).entries.map((e) => e.id)).toEqual(['b1']);
      expect(labels(await drain())).toEqual(['a1', 'a2']);
    });

    test("an append tells whether the event it queued is its conversation's next to deliver", async () => {
      const c = await conversation();
      const other = await conversation();
      const queued = async (id: string, conversationId = c) =>
        ((await engine.append({ conversationId, entry: text(id), retention: keep, webhook: 'message.created', start: true })) as { queuedHead?: boolean }).queuedHead;
      // conversation.started and m1: the first is the head.
      expect(await queued('m1')).toBe(true);
      expect(await queued('m2')).toBe(false);
      expect(await queued('o1', other)).toBe(true);
      // While the head is leased, and after it is delivered, what is queued waits behind m1.
      const [started] = await engine.claimWebhooks(1, LEASE);
      expect(await queued('m3')).toBe(false);
      expect(await engine.completeWebhook(started!.id, started!.lease)).toBe(true);
      expect(await queued('m4')).toBe(false);
      // Once everything is delivered, the next event is the head again; one without a webhook says nothing.
      await drain();
      expect(await queued('m5')).toBe(true);
      expect(((await engine.append({ conversationId: c, entry: text('m6'), retention: keep })) as { queuedHead?: boolean }).queuedHead).toBeUndefined();
    });

    test('appends without a webhook, and event entries, enqueue nothing and do not start the conversation', async () => {
      const c = await conversation();
      await append(c, text('m1'), { start: true });
      await append(c, stored('q1', { type: 'queue', position: 2 }), { webhook: 'message.created', start: true });
      expect(await engine.nextWebhookAt()).toBeNull();
      expect((await engine.getConversation(c))!.started).toBe(false);
    });

    // ---- webhook queue ----

    test('a failing first job holds back only its own conversation, and goes first again after its delay', async () => {
      const a = await conversation();
      const b = await conversation();
      for (const [c, id] of [[a, 'a1'], [b, 'b1'], [a, 'a2'], [b, 'b2'], [a, 'a3']] as const) await append(c, text(id), { webhook: 'message.created' });
      const [a1, b1] = await engine.claimWebhooks(10, LEASE);
      expect(labels([a1!, b1!])).toEqual(['a1', 'b1']);
      expect(await engine.retryWebhook(a1!.id, a1!.lease, 1000, failure)).toBe(true);
      expect(await engine.completeWebhook(b1!.id, b1!.lease)).toBe(true);
      const claimed = await engine.claimWebhooks(10, LEASE);
      expect(labels(claimed)).toEqual(['b2']);
      expect(await engine.completeWebhook(claimed[0]!.id, claimed[0]!.lease)).toBe(true);
      expect(await engine.claimWebhooks(10, LEASE)).toEqual([]);
      clock.t = START + 999;
      expect(await engine.claimWebhooks(10, LEASE)).toEqual([]);
      clock.t = START + 1000;
      const again = await engine.claimWebhooks(10, LEASE);
      expect(again).toMatchObject([{ id: a1!.id, attempts: 2, lastError: failure }]);
      expect(await engine.completeWebhook(again[0]!.id, again[0]!.lease)).toBe(true);
      expect(labels(await drain())).toEqual(['a2', 'a3']);
    });

    test('claims take the oldest first job across conversations, one per conversation, at most max', async () => {
      const a = await conversation();
      const b = await conversation();
      const c = await conversation();
      for (const [conv, id] of [[a, 'a1'], [b, 'b1'], [a, 'a2'], [c, 'c1'], [c, 'c2']] as const) await append(conv, text(id), { webhook: 'message.created' });
      const first = await engine.claimWebhooks(2, LEASE);
      expect(labels(first)).toEqual(['a1', 'b1']);
      expect(await engine.completeWebhook(first[0]!.id, first[0]!.lease)).toBe(true);
      // a2 was queued before c1.
      expect(labels(await engine.claimWebhooks(2, LEASE))).toEqual(['a2', 'c1']);
      expect(await engine.claimWebhooks(0, LEASE)).toEqual([]);
    });

    test('conversations with backlogs each get their next job in every claim, in enqueue order', async () => {
      const conversations: string[] = [];
      for (let i = 0; i < 8; i++) conversations.push(await conversation());
      const enqueued = new Map<string, string[]>(conversations.map((c) => [c, []]));
      for (let n = 0; n < 20; n++) {
        for (const [i, c] of conversations.entries()) {
          if (n >= 6 + i * 2) continue;
          enqueued.get(c)!.push(`${c}m${n}`);
          await append(c, text(`${c}m${n}`), { webhook: 'message.created' });
        }
      }
      const delivered = new Map<string, string[]>(conversations.map((c) => [c, []]));
      for (let round = 0; round < 100; round++) {
        const claimed = await engine.claimWebhooks(100, LEASE);
        if (claimed.length === 0) break;
        const backlogged = conversations.filter((c) => delivered.get(c)!.length < enqueued.get(c)!.length);
        expect(claimed.map((j) => j.conversationId).sort()).toEqual(backlogged.sort());
        for (const job of claimed) {
          delivered.get(job.conversationId)!.push(label(job));
          expect(await engine.completeWebhook(job.id, job.lease)).toBe(true);
        }
      }
      expect(delivered).toEqual(enqueued);
      expect(await engine.nextWebhookAt()).toBeNull();
    });

    test('a claimed job is not claimed again before its lease expires; afterwards it is, with a new token', async () => {
      const c = await conversation();
      await append(c, text('m1'), { webhook: 'message.created' });
      const first = await engine.claimWebhooks(10, 1000);
      expect(first).toMatchObject([{ leaseUntil: START + 1000, attempts: 1 }]);
      expect(first[0]!.lease).toEqual(expect.any(String));
      clock.t = START + 999;
      expect(await engine.claimWebhooks(10, 1000)).toEqual([]);
      clock.t = START + 1000;
      const second = await engine.claimWebhooks(10, 1000);
      expect(second).toMatchObject([{ id: first[0]!.id, attempts: 2, leaseUntil: START + 2000 }]);
      expect(second[0]!.lease).not.toBe(first[0]!.lease);
    });

    test('a stale or wrong lease token completes, retries and buries nothing', async () => {
      const c = await conversation();
      await append(c, text('m1'), { webhook: 'message.created' });
      await append(c, text('m2'), { webhook: 'message.created' });
      const [old] = await engine.claimWebhooks(10, 1000);
      clock.t = START + 1000;
      const [current] = await engine.claimWebhooks(10, 1000);
      expect(current!.id).toBe(old!.id);
      expect(await engine.completeWebhook(old!.id, old!.lease)).toBe(false);
      expect(await engine.retryWebhook(old!.id, old!.lease, 0, failure)).toBe(false);
      expect(await engine.deadLetter(old!.id, old!.lease, failure)).toBe(false);
      expect(await engine.completeWebhook(old!.id, 'not-a-lease')).toBe(false);
      expect(await engine.completeWebhook('evt_unknown', current!.lease)).toBe(false);
      expect(await engine.listDeadLetters('site1')).toEqual([]);
      // Still leased by `current`, and m2 still held back.
      expect(await engine.claimWebhooks(10, 1000)).toEqual([]);
      expect(await engine.nextWebhookAt()).toBe(START + 2000);
      expect(await engine.retryWebhook(current!.id, current!.lease, 0, failure)).toBe(true);
      // A retry ends the lease: its token settles nothing more.
      expect(await engine.completeWebhook(current!.id, current!.lease)).toBe(false);
      const third = await claimOne();
      expect(third).toMatchObject({ id: old!.id, attempts: 3 });
      expect(await engine.completeWebhook(third.id, third.lease)).toBe(true);
      expect(await engine.completeWebhook(third.id, third.lease)).toBe(false);
      expect(labels(await drain())).toEqual(['m2']);
    });

    test("completions asked for at once each get their own answer, and release each conversation's next job", async () => {
      const convs = [await conversation(), await conversation(), await conversation()];
      for (const c of convs) {
        await append(c, text(`${c}-1`), { webhook: 'message.created' });
        await append(c, text(`${c}-2`), { webhook: 'message.created' });
      }
      const [a, b, c] = await engine.claimWebhooks(10, LEASE);
      // All in one turn, b with a wrong token and a twice: b stays leased, a completes once.
      const answers = await Promise.all([
        engine.completeWebhook(a!.id, a!.lease),
        engine.completeWebhook(b!.id, 'not-a-lease'),
        engine.completeWebhook(c!.id, c!.lease),
        engine.completeWebhook(a!.id, a!.lease),
      ]);
      expect(answers).toEqual([true, false, true, false]);
      expect(labels(await engine.claimWebhooks(10, LEASE))).toEqual([`${convs[0]}-2`, `${convs[2]}-2`]);
      expect(await engine.completeWebhook(b!.id, b!.lease)).toBe(true);
    });

    test('each claim counts an attempt and sets the first and last attempt times; a retry sets the due time and error', async () => {
      const c = await conversation();
      await append(c, text('m1'), { webhook: 'message.created' });
      clock.t = START + 5;
      const first = await claimOne();
      expect(first).toMatchObject({ attempts: 1, enqueuedAt: START, dueAt: START, firstAttemptAt: START + 5, lastAttemptAt: START + 5 });
      expect(first.lastError).toBeUndefined();
      expect(await engine.retryWebhook(first.id, first.lease, 100, failure)).toBe(true);
      clock.t = START + 105;
      const second = await claimOne();
      expect(second).toMatchObject({ attempts: 2, dueAt: START + 105, firstAttemptAt: START + 5, lastAttemptAt: START + 105, lastError: failure });
    });

    test("deadLetter moves the job to its site's dead letters and releases the conversation's next job", async () => {
      const c = await conversation();
      await append(c, text('m1'), { webhook: 'message.created' });
      await append(c, text('m2'), { webhook: 'message.created' });
      clock.t = START + 10;
      const first = await claimOne();
      await engine.retryWebhook(first.id, first.lease, 0, failure);
      clock.t = START + 20;
      const second = await claimOne();
      const final = { code: 'WEBHOOK_FAILED', message: 'The backend answered 503.', status: 503 };
      expect(await engine.deadLetter(second.id, second.lease, final)).toBe(true);
      const dead = await engine.listDeadLetters('site1');
      expect(dead).toEqual([{ event: first.event, attempts: 2, firstAttemptAt: START + 10, lastAttemptAt: START + 20, lastError: final }]);
      expect(check(DeadLetter, dead[0])).toMatchObject({ ok: true });
      expect(labels(await drain())).toEqual(['m2']);
    });

    test('dead letters are kept per site, oldest first', async () => {
      const one = await conversation({ siteKey: 'site1' });
      const two = await conversation({ siteKey: 'site2' });
      for (const id of ['a', 'b']) await append(one, text(id), { webhook: 'message.created' });
      await append(two, text('x'), { webhook: 'message.created' });
      for (let round = 0; round < 2; round++) {
        for (const job of await engine.claimWebhooks(10, LEASE)) expect(await engine.deadLetter(job.id, job.lease, failure)).toBe(true);
      }
      expect((await engine.listDeadLetters('site1')).map(label)).toEqual(['a', 'b']);
      expect((await engine.listDeadLetters('site2')).map(label)).toEqual(['x']);
      expect(await engine.listDeadLetters('site3')).toEqual([]);
    });

    test('nextWebhookAt is null when empty, the due time of a retried first job, and the lease expiry while leased', async () => {
      expect(await engine.nextWebhookAt()).toBeNull();
      const c = await conversation();
      await append(c, text('m1'), { webhook: 'message.created' });
      expect(await engine.nextWebhookAt()).toBeLessThanOrEqual(START);
      const job = await engine.claimWebhooks(10, 500);
      expect(await engine.nextWebhookAt()).toBe(START + 500);
      clock.t = START + 100;
      await engine.retryWebhook(job[0]!.id, job[0]!.lease, 2000, failure);
      expect(await engine.nextWebhookAt()).toBe(START + 2100);
      await append(c, text('m2'), { webhook: 'message.created' });
      expect(await engine.nextWebhookAt()).toBe(START + 2100);
      clock.t = START + 2100;
      const again = await engine.claimWebhooks(10, 500);
      expect(await engine.nextWebhookAt()).toBe(START + 2600);
      await engine.completeWebhook(again[0]!.id, again[0]!.lease);
      expect(await engine.nextWebhookAt()).toBeLessThanOrEqual(clock.t);
      expect(labels(await drain())).toEqual(['m2']);
      expect(await engine.nextWebhookAt()).toBeNull();
    });

    test('any sequence of appends, claims, completes, retries and dead letters follows the reference queue model', async () => {
      type Op =
        | { op: 'append'; conversation: number }
        | { op: 'redo'; pick: number }
        | { op: 'claim'; advance: number; max: number; leaseMs: number }
        | { op: 'complete' | 'dead'; pick: number }
        | { op: 'retry'; pick: number; delay: number };
      const op: fc.Arbitrary<Op> = fc.oneof(
        { arbitrary: fc.record({ op: fc.constant('append' as const), conversation: fc.integer({ min: 0, max: 3 }) }), weight: 3 },
        { arbitrary: fc.record({ op: fc.constant('redo' as const), pick: fc.nat() }), weight: 1 },
        {
          arbitrary: fc.record({
            op: fc.constant('claim' as const),
            advance: fc.constantFrom(0, 1, 10, 40, 200),
            max: fc.integer({ min: 0, max: 4 }),
            leaseMs: fc.constantFrom(30, 100),
          }),
          weight: 3,
        },
        { arbitrary: fc.record({ op: fc.constantFrom('complete' as const, 'dead' as const), pick: fc.nat() }), weight: 3 },
        { arbitrary: fc.record({ op: fc.constant('retry' as const), pick: fc.nat(), delay: fc.constantFrom(0, 10, 60) }), weight: 2 },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 70 }), async (ops) => {
          const time = { t: START };
          const e = await harness.make({ now: () => time.t });
          await e.start();
          try {
            const conversations: string[] = [];
            for (let i = 0; i < 4; i++) {
              const opened = await e.openConversation({ id: `p${i}`, siteKey: 'site1', ownerKey: `v:p${i}`, visitorId: `p${i}`, context: {} });
              conversations.push(opened.conversation.id);
            }
            const model = new ReferenceQueue();
            const entries: { conversationId: string; id: string }[] = [];
            const leases: { id: string; lease: string; ref: number }[] = [];
            const claimAndCompare = async (max: number, leaseMs: number): Promise<void> => {
              const claimed = await e.claimWebhooks(max, leaseMs);
              const expected = model.claim(time.t, max, leaseMs);
              expect(claimed.map((j) => [j.id, j.attempts, j.leaseUntil])).toEqual(expected.map((j) => [j.id, j.attempts, j.leaseUntil]));
              claimed.forEach((job, i) => leases.push({ id: job.id, lease: job.lease, ref: expected[i]!.lease! }));
            };
            for (const o of ops) {
              if (o.op === 'append') {
                const conversationId = conversations[o.conversation]!;
                const id = `e${entries.length}`;
                entries.push({ conversationId, id });
                await append(conversationId, text(id), { webhook: 'message.created' }, e);
                model.enqueue(webhookJobId(conversationId, id, 'message.created'), conversationId, time.t);
              } else if (o.op === 'redo') {
                const entry = entries[o.pick % Math.max(1, entries.length)];
                if (!entry) continue;
                expect(await append(entry.conversationId, text(entry.id), { webhook: 'message.created' }, e)).toMatchObject({ duplicate: true });
              } else if (o.op === 'claim') {
                const next = await e.nextWebhookAt();
                const expected = model.nextAt();
                if (expected === null) expect(next).toBeNull();
                else expect(next).toBeLessThanOrEqual(expected);
                time.t += o.advance;
                await claimAndCompare(o.max, o.leaseMs);
              } else {
                const held = leases[o.pick % Math.max(1, leases.length)];
                if (!held) continue;
                // Whether a lease that ran out but was not claimed again still settles is left to each engine.
                const job = model.leased(held.id, held.ref);
                if (job && job.leaseUntil <= time.t) continue;
                if (o.op === 'retry') {
                  expect(await e.retryWebhook(held.id, held.lease, o.delay, failure)).toBe(model.retry(held.id, held.ref, time.t + o.delay));
                } else if (o.op === 'complete') {
                  expect(await e.completeWebhook(held.id, held.lease)).toBe(model.remove(held.id, held.ref, false));
                } else {
                  expect(await e.deadLetter(held.id, held.lease, failure)).toBe(model.remove(held.id, held.ref, true));
                }
              }
            }
            expect((await e.listDeadLetters('site1')).map((d) => d.event.id)).toEqual(model.dead);
            // Everything left goes out in order once the clock has passed every due time and lease.
            time.t += 10_000;
            for (let round = 0; round < 1000 && model.lanes.size > 0; round++) {
              const before = leases.length;
              await claimAndCompare(10, 100);
              for (const held of leases.slice(before)) expect(await e.completeWebhook(held.id, held.lease)).toBe(model.remove(held.id, held.ref, false));
            }
            expect(await e.nextWebhookAt()).toBeNull();
            // Per conversation, jobs left the queue in enqueue order.
            for (const conversationId of conversations) {
              const order = entries.filter((x) => x.conversationId === conversationId).map((x) => webhookJobId(conversationId, x.id, 'message.created'));
              expect(model.removed.get(conversationId) ?? []).toEqual(order);
            }
          } finally {
            await e.close();
          }
        }),
        { numRuns: 100 },
      );
    });

    // ---- fan-out ----

    test("a conversation's subscriber receives each committed entry of it once, and nothing for duplicates", async () => {
      const a = await conversation();
      const b = await conversation();
      const items: FanoutItem[] = [];
      await engine.subscribe(conversationTopic(a), (item) => items.push(item));
      const m1 = await append(a, text('m1'));
      await append(a, text('m2'));
      await append(a, text('m1', 'again'));
      await append(b, text('b1'));
      await append(a, text('m3'));
      await engine.publish(sentinel(a));
      await until(() => items.some(isSentinel), 'the sentinel');
      const entries = items.filter((i): i is Extract<FanoutItem, { kind: 'entry' }> => i.kind === 'entry');
      expect(entries.map((i) => [i.conversationId, i.entry.id, i.entry.seq]).sort()).toEqual([
        [a, 'm1', 1],
        [a, 'm2', 2],
        [a, 'm3', 3],
      ]);
      expect(entries.find((i) => i.entry.id === 'm1')!.entry).toEqual(m1.entry);
      expect(items.filter((i) => i.kind !== 'entry')).toHaveLength(1);
    });

    test("transient items reach their conversation's subscribers only, and site items the site's", async () => {
      const a = await conversation();
      const b = await conversation();
      const got = new Map<string, FanoutItem[]>();
      for (const topic of [conversationTopic(a), conversationTopic(b), siteTopic('site1'), siteTopic('site2')]) {
        got.set(topic, []);
        await engine.subscribe(topic, (item) => got.get(topic)!.push(item));
      }
      const typing: TransientItem = { kind: 'transient', conversationId: a, ts: START, event: { type: 'typing', on: true } };
      const offline: TransientItem = { kind: 'site', siteKey: 'site1', ts: START, event: { type: 'availability', online: false } };
      await engine.publish(typing);
      await engine.publish(offline);
      const ends: TransientItem[] = [
        sentinel(a),
        sentinel(b),
        { kind: 'site', siteKey: 'site1', ts: 1, event: { type: 'read', seq: 424242 } },
        { kind: 'site', siteKey: 'site2', ts: 1, event: { type: 'read', seq: 424242 } },
      ];
      for (const end of ends) await engine.publish(end);
      await until(() => [...got.values()].every((items) => items.some(isSentinel)), 'every sentinel');
      expect(got.get(conversationTopic(a))).toEqual([typing, ends[0]]);
      expect(got.get(conversationTopic(b))).toEqual([ends[1]]);
      expect(got.get(siteTopic('site1'))).toEqual([offline, ends[2]]);
      expect(got.get(siteTopic('site2'))).toEqual([ends[3]]);
    });

    test('unsubscribe stops delivery to that listener only', async () => {
      const a = await conversation();
      const gone: FanoutItem[] = [];
      const kept: FanoutItem[] = [];
      const stop = await engine.subscribe(conversationTopic(a), (item) => gone.push(item));
      await engine.subscribe(conversationTopic(a), (item) => kept.push(item));
      stop();
      await append(a, text('m1'));
      await engine.publish(sentinel(a));
      await until(() => kept.some(isSentinel), 'the sentinel');
      expect(kept.map((i) => i.kind)).toEqual(['entry', 'transient']);
      expect(gone).toEqual([]);
    });

    test('a listener that throws does not stop delivery to the others', async () => {
      const a = await conversation();
      const items: FanoutItem[] = [];
      await engine.subscribe(conversationTopic(a), () => {
        throw new Error('listener bug');
      });
      await engine.subscribe(conversationTopic(a), (item) => items.push(item));
      expect(await append(a, text('m1'))).toMatchObject({ seq: 1 });
      await engine.publish(sentinel(a));
      await until(() => items.some(isSentinel), 'the sentinel');
      expect(items.map((i) => i.kind)).toEqual(['entry', 'transient']);
    });

    // ---- streamed answers ----

    const AI = { role: 'bot' as const, ai: true, name: 'Assistant' };
    const KEEP_MS = 600_000;
    const startReq = (conversationId: string, id: string) => ({ conversationId, id, from: AI, retention: keep, keepMs: KEEP_MS });
    const delta = (conversationId: string, id: string, offset: number, t: string): StreamDeltaRequest => ({ conversationId, id, offset, text: t, retention: keep, keepMs: KEEP_MS });
    const end = (conversationId: string, id: string, over: Partial<StreamEndRequest> = {}): StreamEndRequest => ({ conversationId, id, retention: keep, ...over });

    /** The items of a conversation's topic until a sentinel published after `act`. */
    async function itemsOf(conversationId: string, act: () => Promise<unknown>): Promise<FanoutItem[]> {
      const items: FanoutItem[] = [];
      const stop = await engine.subscribe(conversationTopic(conversationId), (item) => items.push(item));
      try {
        await act();
        await engine.publish(sentinel(conversationId));
        await until(() => items.some(isSentinel), 'the sentinel');
      } finally {
        stop();
      }
      return items.filter((i) => !isSentinel(i));
    }
    const drafts = (items: FanoutItem[]) => items.filter((i): i is DraftItem => i.kind === 'draft').map((i) => [i.draft.offset, i.draft.text]);

    test('start opens an empty stream stamped by the engine clock; starting again answers it and counts as a step', async () => {
      const c = await conversation();
      clock.t = START + 10;
      expect(await engine.startStream(startReq(c, 's1'))).toEqual({
        status: 'open',
        created: true,
        stream: { conversationId: c, id: 's1', from: AI, text: '', startedAt: START + 10, updatedAt: START + 10 },
      });
      await engine.appendStream(delta(c, 's1', 0, 'Hello'));
      clock.t = START + 50;
      expect(await engine.startStream(startReq(c, 's1'))).toMatchObject({ status: 'open', created: false, stream: { text: 'Hello', startedAt: START + 10, updatedAt: START + 50 } });
      expect(await engine.openStreams(c)).toEqual([{ conversationId: c, id: 's1', from: AI, text: 'Hello', startedAt: START + 10, updatedAt: START + 50 }]);
      expect(await engine.openStreams(await conversation())).toEqual([]);
      // Nothing entered the log.
      expect(await engine.read(c, 0, 10)).toEqual({ entries: [], lastSeq: 0, hasMore: false });
    });

    test('20 concurrent starts of one answer give one stream, created once, with one empty draft fanned out', async () => {
      const c = await conversation();
      let results: Awaited<ReturnType<Engine['startStream']>>[] = [];
      const items = await itemsOf(c, async () => {
        results = await Promise.all(range(1, 20).map(() => engine.startStream(startReq(c, 's1'))));
      });
      expect(results.filter((r) => r?.status === 'open' && r.created)).toHaveLength(1);
      expect(results.every((r) => r?.status === 'open')).toBe(true);
      expect(drafts(items)).toEqual([[0, '']]);
      expect(items[0]).toMatchObject({ kind: 'draft', conversationId: c, draft: { id: 's1', from: AI } });
      expect(await engine.openStreams(c)).toHaveLength(1);
    });

    test('deltas append at their offset: text already held is skipped, a gap changes nothing and answers the held length', async () => {
      const c = await conversation();
      await engine.startStream(startReq(c, 's1'));
      expect(await engine.appendStream(delta(c, 's1', 0, 'The red '))).toEqual({ status: 'ok', length: 8, appended: true });
      expect(await engine.appendStream(delta(c, 's1', 4, 'red boots'))).toEqual({ status: 'ok', length: 13, appended: true });
      expect(await engine.appendStream(delta(c, 's1', 0, 'The red'))).toEqual({ status: 'ok', length: 13, appended: false });
      expect(await engine.appendStream(delta(c, 's1', 20, ' ship'))).toEqual({ status: 'gap', length: 13 });
      expect(await engine.appendStream(delta(c, 's1', 13, ' ship today.'))).toEqual({ status: 'ok', length: 25, appended: true });
      expect((await engine.openStreams(c))[0]!.text).toBe('The red boots ship today.');
    });

    test('the same delta sent 20 times at once is appended once and fanned out once', async () => {
      const c = await conversation();
      await engine.startStream(startReq(c, 's1'));
      await engine.appendStream(delta(c, 's1', 0, 'Hi'));
      let results: Awaited<ReturnType<Engine['appendStream']>>[] = [];
      const items = await itemsOf(c, async () => {
        results = await Promise.all(range(1, 20).map(() => engine.appendStream(delta(c, 's1', 2, ' there'))));
      });
      expect(results.filter((r) => r?.status === 'ok' && r.appended)).toHaveLength(1);
      expect(results.every((r) => r?.status === 'ok' && r.length === 8)).toBe(true);
      expect(drafts(items)).toEqual([[2, ' there']]);
      expect((await engine.openStreams(c))[0]!.text).toBe('Hi there');
    });

    test('drafts are fanned out in the order the steps committed, each with the offset it starts at', async () => {
      const c = await conversation();
      const words = ['Your ', 'order ', 'ships ', 'tomorrow.'];
      const items = await itemsOf(c, async () => {
        await engine.startStream(startReq(c, 's1'));
        let offset = 0;
        for (const word of words) {
          await engine.appendStream(delta(c, 's1', offset, word));
          offset += word.length;
        }
      });
      expect(drafts(items)).toEqual([[0, ''], [0, 'Your '], [5, 'order '], [11, 'ships '], [17, 'tomorrow.']]);
      const stamped = items.filter((i): i is DraftItem => i.kind === 'draft');
      expect(stamped.every((i) => i.draft.id === 's1' && i.draft.ts === START && i.conversationId === c)).toBe(true);
    });

    test('lengths count UTF-16 code units; a delta overlapping into a surrogate pair skips the whole pair', async () => {
      const c = await conversation();
      await engine.startStream(startReq(c, 's1'));
      expect(await engine.appendStream(delta(c, 's1', 0, 'Très 👍'))).toEqual({ status: 'ok', length: 7, appended: true });
      expect(await engine.appendStream(delta(c, 's1', 5, '👍 bien'))).toEqual({ status: 'ok', length: 12, appended: true });
      // Held: 12 units. The held length falls after the first unit of this delta's 😀: the pair is skipped, not half of it.
      expect(await engine.appendStream(delta(c, 's1', 11, '😀😀!'))).toEqual({ status: 'ok', length: 15, appended: true });
      expect((await engine.openStreams(c))[0]!.text).toBe('Très 👍 bien😀!');
      const result = await engine.endStream(end(c, 's1'));
      expect(result).toMatchObject({ status: 'ended', entry: { body: { type: 'text', text: 'Très 👍 bien😀!' } } });
    });

    test('an answer never holds more than the text limit: a delta past it is refused and changes nothing', async () => {
      const c = await conversation();
      await engine.startStream(startReq(c, 's1'));
      const full = 'x'.repeat(LIMITS.maxTextLength - 2);
      expect(await engine.appendStream(delta(c, 's1', 0, full))).toMatchObject({ status: 'ok', length: LIMITS.maxTextLength - 2 });
      expect(await engine.appendStream(delta(c, 's1', full.length, 'abc'))).toEqual({ status: 'too-long', length: LIMITS.maxTextLength - 2 });
      expect(await engine.appendStream(delta(c, 's1', full.length, 'ab'))).toEqual({ status: 'ok', length: LIMITS.maxTextLength, appended: true });
    });

    test('finish appends the final message with a seq in one step, drops the snapshot, queues no job and fans the entry out', async () => {
      const c = await conversation();
      await append(c, text('v1'), { webhook: 'message.created', start: true });
      await drain();
      await engine.startStream(startReq(c, 's1'));
      await engine.appendStream(delta(c, 's1', 0, 'It ships tomorrow.'));
      clock.t = START + 99;
      let result: Awaited<ReturnType<Engine['endStream']>> = null;
      const items = await itemsOf(c, async () => {
        result = await engine.endStream(end(c, 's1'));
      });
      const entry = { kind: 'msg', id: 's1', seq: 2, ts: START + 99, from: AI, body: { type: 'text', text: 'It ships tomorrow.' } };
      expect(result).toEqual({ status: 'ended', duplicate: false, seq: 2, ts: START + 99, entry });
      expect(items).toEqual([{ kind: 'entry', conversationId: c, entry }]);
      expect(await engine.openStreams(c)).toEqual([]);
      expect((await engine.read(c, 0, 10)).entries).toEqual([expect.objectContaining({ id: 'v1' }), entry]);
      expect(await engine.nextWebhookAt()).toBeNull();
      // Repeats answer the logged message; a delta or a start finds it ended.
      expect(await engine.endStream(end(c, 's1'))).toEqual({ status: 'ended', duplicate: true, seq: 2, ts: START + 99, entry });
      expect(await engine.endStream(end(c, 's1', { abort: true }))).toEqual({ status: 'ended', duplicate: true, seq: 2, ts: START + 99, entry });
      expect(await engine.appendStream(delta(c, 's1', 18, ' More.'))).toEqual({ status: 'ended' });
      expect(await engine.startStream(startReq(c, 's1'))).toEqual({ status: 'ended', seq: 2, ts: START + 99, entry });
      expect(await engine.openStreams(c)).toEqual([]);
      expect((await engine.getConversation(c))!.lastSeq).toBe(2);
    });

    test('finish with text, sources and quick replies logs them as the body; without text it keeps the draft', async () => {
      const c = await conversation();
      const sources = [{ title: 'Shipping policy', url: 'https://shop.example/shipping' }];
      const replies = [{ label: 'Thanks', value: 'thanks' }];
      await engine.startStream(startReq(c, 'a'));
      await engine.appendStream(delta(c, 'a', 0, 'draft text'));
      expect(await engine.endStream(end(c, 'a', { text: 'Final text', sources }))).toMatchObject({ entry: { body: { type: 'text', text: 'Final text', sources } } });
      await engine.startStream(startReq(c, 'b'));
      await engine.appendStream(delta(c, 'b', 0, 'Anything else?'));
      const quick = await engine.endStream(end(c, 'b', { quickReplies: replies, sources }));
      expect(quick).toMatchObject({ status: 'ended', entry: { body: { type: 'quick_replies', text: 'Anything else?', replies, sources } } });
      const entries = (await engine.read(c, 0, 10)).entries;
      expect(entries.map((e) => e.kind === 'msg' && e.body)).toEqual([
        { type: 'text', text: 'Final text', sources },
        { type: 'quick_replies', text: 'Anything else?', replies, sources },
      ]);
      expect(entries.every((e) => e.kind === 'msg' && e.incomplete === undefined)).toBe(true);
    });

    test('abort logs the text so far marked incomplete (… when nothing arrived); a finish with no text at all changes nothing', async () => {
      const c = await conversation();
      await engine.startStream(startReq(c, 'a'));
      await engine.appendStream(delta(c, 'a', 0, 'Half an'));
      expect(await engine.endStream(end(c, 'a', { abort: true, text: 'ignored', sources: [{ title: 'x', url: 'https://x.example' }] }))).toMatchObject({
        status: 'ended',
        duplicate: false,
        entry: { id: 'a', seq: 1, incomplete: true, from: AI, body: { type: 'text', text: 'Half an' } },
      });
      await engine.startStream(startReq(c, 'b'));
      expect(await engine.endStream(end(c, 'b'))).toEqual({ status: 'empty' });
      expect(await engine.openStreams(c)).toHaveLength(1);
      expect(await engine.endStream(end(c, 'b', { abort: true }))).toMatchObject({ entry: { seq: 2, incomplete: true, body: { type: 'text', text: '…' } } });
      const logged = (await engine.read(c, 0, 10)).entries;
      expect(logged.map((e) => e.kind === 'msg' && [e.id, e.incomplete])).toEqual([
        ['a', true],
        ['b', true],
      ]);
    });

    test('20 concurrent finishes of one answer log it once; the others are duplicates of it', async () => {
      const c = await conversation();
      await engine.startStream(startReq(c, 's1'));
      await engine.appendStream(delta(c, 's1', 0, 'Once.'));
      const results = await Promise.all(range(1, 20).map((i) => engine.endStream(end(c, 's1', i % 2 ? {} : { abort: true }))));
      expect(results.filter((r) => r?.status === 'ended' && !r.duplicate)).toHaveLength(1);
      expect(results.every((r) => r?.status === 'ended' && r.seq === 1)).toBe(true);
      expect((await engine.read(c, 0, 10)).entries.map((e) => e.id)).toEqual(['s1']);
    });

    test('steps of an answer never started are not-found; on an unknown conversation every step is null', async () => {
      const c = await conversation();
      expect(await engine.appendStream(delta(c, 'nope', 0, 'x'))).toEqual({ status: 'not-found' });
      expect(await engine.endStream(end(c, 'nope'))).toEqual({ status: 'not-found' });
      expect(await engine.endStream(end(c, 'nope', { abort: true }))).toEqual({ status: 'not-found' });
      expect(await engine.startStream(startReq('missing', 's1'))).toBeNull();
      expect(await engine.appendStream(delta('missing', 's1', 0, 'x'))).toBeNull();
      expect(await engine.endStream(end('missing', 's1'))).toBeNull();
      expect(await engine.openStreams('missing')).toEqual([]);
      expect(await engine.read(c, 0, 10)).toMatchObject({ lastSeq: 0 });
    });

    test('an id already in the log cannot be streamed: start answers the logged message, a stray snapshot under it is dropped by end', async () => {
      const c = await conversation();
      const logged = await append(c, text('m1', 'hello', 'bot'));
      expect(await engine.startStream(startReq(c, 'm1'))).toEqual({ status: 'ended', seq: 1, ts: logged.ts, entry: logged.entry });
      expect(await engine.openStreams(c)).toEqual([]);
      // A stream started first, then its id used by a plain message: the end answers that message.
      await engine.startStream(startReq(c, 'm2'));
      const plain = await append(c, text('m2', 'plain', 'bot'));
      expect(await engine.endStream(end(c, 'm2'))).toEqual({ status: 'ended', duplicate: true, seq: plain.seq, ts: plain.ts, entry: plain.entry });
      expect(await engine.openStreams(c)).toEqual([]);
    });

    test('stalledStreams lists streams with no step for the stall time, oldest first; a stall end refuses an active one', async () => {
      const a = await conversation();
      const b = await conversation();
      await engine.startStream(startReq(a, 's1'));
      clock.t = START + 1000;
      await engine.startStream(startReq(b, 's2'));
      clock.t = START + 2000;
      await engine.startStream(startReq(a, 's3'));
      clock.t = START + 5000;
      expect(await engine.stalledStreams(4000, 10)).toEqual([
        { conversationId: a, id: 's1' },
        { conversationId: b, id: 's2' },
      ]);
      expect(await engine.stalledStreams(4000, 1)).toEqual([{ conversationId: a, id: 's1' }]);
      // A delta is a step: s1 is no longer stalled.
      await engine.appendStream(delta(a, 's1', 0, 'still writing'));
      expect(await engine.stalledStreams(4000, 10)).toEqual([{ conversationId: b, id: 's2' }]);
      expect(await engine.endStream(end(a, 's1', { abort: true, stalledMs: 4000 }))).toEqual({ status: 'active' });
      expect(await engine.endStream(end(b, 's2', { abort: true, stalledMs: 4000 }))).toMatchObject({ status: 'ended', entry: { incomplete: true, body: { text: '…' } } });
      clock.t = START + 9000;
      expect(await engine.stalledStreams(4000, 10)).toEqual([
        { conversationId: a, id: 's3' },
        { conversationId: a, id: 's1' },
      ]);
      expect(await engine.endStream(end(a, 's1', { abort: true, stalledMs: 4000 }))).toMatchObject({ entry: { body: { text: 'still writing' }, incomplete: true } });
      expect(await engine.stalledStreams(4000, 10)).toEqual([{ conversationId: a, id: 's3' }]);
    });

    // ---- feedback ----

    test('feedback on a bot message enqueues message.feedback after the conversation’s earlier events, once per id even after delivery', async () => {
      const c = await conversation();
      await append(c, text('v1'), { webhook: 'message.created', start: true });
      const bot = await append(c, text('b1', 'Answer', 'bot'));
      clock.t = START + 7;
      expect(await engine.enqueueFeedback({ conversationId: c, id: 'f1', messageId: 'b1', value: 'down', comment: 'Wrong size', retention: keep })).toBe('queued');
      expect(await engine.enqueueFeedback({ conversationId: c, id: 'f1', messageId: 'b1', value: 'down', comment: 'Wrong size', retention: keep })).toBe('duplicate');
      const jobs = await drain();
      expect(labels(jobs)).toEqual(['conversation.started', 'v1', 'message.feedback']);
      const job = jobs[2]!;
      expect(job.id).toBe(webhookJobId(c, 'f1', 'message.feedback'));
      expect(check(WebhookEvent, job.event).ok).toBe(true);
      expect(job.event).toEqual({
        id: job.id,
        type: 'message.feedback',
        createdAt: START + 7,
        siteKey: 'site1',
        conversationId: c,
        visitor: { id: expect.any(String), readSeq: 0 },
        data: { messageId: 'b1', value: 'down', comment: 'Wrong size' },
      });
      expect(bot.seq).toBe(2);
      // Delivered, then sent again with the same id: still once.
      expect(await engine.enqueueFeedback({ conversationId: c, id: 'f1', messageId: 'b1', value: 'down', retention: keep })).toBe('duplicate');
      expect(await engine.enqueueFeedback({ conversationId: c, id: 'f2', messageId: 'b1', value: 'up', retention: keep })).toBe('queued');
      expect((await drain()).map((j) => j.event.data)).toEqual([{ messageId: 'b1', value: 'up' }]);
    });

    test('feedback on a visitor message, an unknown id or an unknown conversation is refused and enqueues nothing', async () => {
      const c = await conversation();
      await append(c, text('v1'));
      await append(c, text('a1', 'agent here', 'agent'));
      expect(await engine.enqueueFeedback({ conversationId: c, id: 'f1', messageId: 'v1', value: 'up', retention: keep })).toBe('not-found');
      expect(await engine.enqueueFeedback({ conversationId: c, id: 'f2', messageId: 'a1', value: 'up', retention: keep })).toBe('not-found');
      expect(await engine.enqueueFeedback({ conversationId: c, id: 'f3', messageId: 'nope', value: 'up', retention: keep })).toBe('not-found');
      expect(await engine.enqueueFeedback({ conversationId: 'missing', id: 'f4', messageId: 'v1', value: 'up', retention: keep })).toBeNull();
      expect(await engine.nextWebhookAt()).toBeNull();
    });

    test('20 concurrent feedbacks with one id enqueue one job; a finished streamed answer takes feedback', async () => {
      const c = await conversation();
      await engine.startStream(startReq(c, 's1'));
      await engine.appendStream(delta(c, 's1', 0, 'Streamed'));
      await engine.endStream(end(c, 's1'));
      const results = await Promise.all(range(1, 20).map(() => engine.enqueueFeedback({ conversationId: c, id: 'f1', messageId: 's1', value: 'up', retention: keep })));
      expect(results.filter((r) => r === 'queued')).toHaveLength(1);
      expect(results.filter((r) => r === 'duplicate')).toHaveLength(19);
      expect(labels(await drain())).toEqual(['message.feedback']);
    });

    // ---- closing, listing, site state ----

    test('a stored closed event marks the conversation closed; other events do not', async () => {
      const c = await conversation();
      await append(c, stored('q1', { type: 'queue', position: 1 }));
      expect((await engine.getConversation(c))!.closed).toBe(false);
      await append(c, stored('bye', { type: 'closed', reason: 'resolved' }));
      expect(await engine.getConversation(c)).toMatchObject({ closed: true, started: false, lastSeq: 2 });
    });

    test("listConversations lists a site's conversations newest first, at most limit", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        clock.t = START + i * 1000;
        ids.push(await conversation({ siteKey: 'site1' }));
      }
      const other = await conversation({ siteKey: 'site2' });
      expect(await listIds('site1', { limit: 10 })).toEqual({ ids: [...ids].reverse(), next: false });
      expect(await listIds('site1', { limit: 2 })).toEqual({ ids: [ids[4], ids[3]], next: true });
      expect(await listIds('site1', { limit: 5 })).toEqual({ ids: [...ids].reverse(), next: false });
      expect((await engine.listConversations('site2', { limit: 10 })).conversations).toMatchObject([{ id: other, siteKey: 'site2' }]);
      expect(await engine.listConversations('site3', { limit: 10 })).toEqual({ conversations: [], nextCursor: null });
    });

    test('paging 450 conversations 100 at a time lists each exactly once, newest first', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 450; i++) {
        clock.t = START + Math.floor(i / 3); // three conversations per millisecond
        ids.push(await conversation());
      }
      await conversation({ siteKey: 'site2' });
      const pages = await allPages('site1', 100);
      expect(pages.map((p) => p.length)).toEqual([100, 100, 100, 100, 50]);
      const listed = pages.flat();
      expect(new Set(listed.map((c) => c.id)).size).toBe(450);
      expect(new Set(listed.map((c) => c.id))).toEqual(new Set(ids));
      const times = listed.map((c) => c.createdAt);
      expect(times).toEqual([...times].sort((a, b) => b - a));
      // The same order as one page holding them all.
      expect(listed.map((c) => c.id)).toEqual((await engine.listConversations('site1', { limit: 1000 })).conversations.map((c) => c.id));
    });

    test('conversations opened between pages neither repeat an item nor push an older one out', async () => {
      const older: string[] = [];
      for (let i = 0; i < 250; i++) {
        clock.t = START + 1000 + i;
        older.push(await conversation());
      }
      const first = await engine.listConversations('site1', { limit: 100 });
      expect(first.conversations.map((c) => c.id)).toEqual(older.slice(150).reverse());
      // Newer ones, one in the millisecond of the page's last item, and one with the clock set back.
      clock.t = START + 2000;
      for (let i = 0; i < 30; i++) await conversation();
      clock.t = first.conversations[99]!.createdAt;
      const sameMs = await conversation();
      clock.t = START;
      const backdated = await conversation();
      const rest = await allPages('site1', 100, first.nextCursor!);
      const ids = rest.flat().map((c) => c.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.filter((id) => id !== sameMs)).toEqual([...older.slice(0, 150).reverse(), backdated]);
    });

    test('conversations opened in one millisecond page in one fixed order, each once', async () => {
      clock.t = START;
      const before = await conversation();
      clock.t = START + 1;
      const tied: string[] = [];
      for (let i = 0; i < 7; i++) tied.push(await conversation());
      clock.t = START + 2;
      const after = await conversation();
      const whole = (await engine.listConversations('site1', { limit: 100 })).conversations.map((c) => c.id);
      expect(whole[0]).toBe(after);
      expect(whole[8]).toBe(before);
      expect(new Set(whole.slice(1, 8))).toEqual(new Set(tied));
      for (const size of [1, 2, 3]) {
        const pages = await allPages('site1', size);
        expect(pages.flat().map((c) => c.id)).toEqual(whole);
        expect(pages.every((p) => p.length === size || p === pages[pages.length - 1])).toBe(true);
      }
    });

    test('a page continues from its cursor after the conversation the cursor names is forgotten', async () => {
      clock.t = START;
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await conversation()); // all in one millisecond
      clock.t = START + 1;
      ids.push(await conversation());
      const whole = (await engine.listConversations('site1', { limit: 100 })).conversations.map((c) => c.id);
      const first = await engine.listConversations('site1', { limit: 3 });
      const gone = first.conversations[2]!.id;
      // Every other conversation gets an entry; the one the cursor names stays empty and is swept.
      clock.t = START + DAY - 10;
      for (const id of ids) if (id !== gone) await append(id, text(`m-${id}`));
      clock.t = START + DAY + 1;
      await (engine as Engine & { sweep(): unknown }).sweep();
      expect(await engine.getConversation(gone)).toBeNull();
      const rest = await allPages('site1', 2, first.nextCursor!);
      expect(rest.flat().map((c) => c.id)).toEqual(whole.slice(3));
    });

    test('a cursor is a position: one from another site pages this site from there; a malformed one is refused', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        clock.t = START + i * 10;
        ids.push(await conversation());
        clock.t = START + i * 10 + 5;
        await conversation({ siteKey: 'site2' });
      }
      const site2 = await engine.listConversations('site2', { limit: 2 });
      // site2's second newest was opened at START + 25: site1's older ones follow it.
      expect(await listIds('site1', { limit: 10, cursor: site2.nextCursor! })).toEqual({ ids: [ids[2], ids[1], ids[0]], next: false });
      for (const bad of ['', 'not a cursor', 'bm90IGpzb24', Buffer.from('[1,2]').toString('base64url'), site2.nextCursor! + 'A']) {
        await expect(engine.listConversations('site1', { limit: 10, cursor: bad }), bad).rejects.toThrow(TypeError);
      }
    });

    test('countConversations counts the conversations of every site, once each', async () => {
      expect(await engine.countConversations()).toBe(0);
      const ids: string[] = [];
      for (const siteKey of ['site1', 'site1', 'site1', 'site2', 'site2']) ids.push(await conversation({ siteKey, ownerKey: `v:${siteKey}-${ids.length}` }));
      await engine.openConversation(openRequest({ id: ids[0] }));
      await engine.openConversation(openRequest({ ownerKey: 'v:site1-1' }));
      expect(await engine.countConversations()).toBe(5);
    });

    test('online is null until set, then what was set, per site', async () => {
      expect(await engine.getOnline('site1')).toBeNull();
      await engine.setOnline('site1', false);
      expect(await engine.getOnline('site1')).toBe(false);
      expect(await engine.getOnline('site2')).toBeNull();
      await engine.setOnline('site1', true);
      expect(await engine.getOnline('site1')).toBe(true);
    });

    test('a visitor revocation is kept per site and visitor, only moves forward, and is forgotten after its keep time', async () => {
      expect(await engine.visitorRevokedAt('site1', 'v1')).toBeNull();
      await engine.revokeVisitor('site1', 'v1', START + 50, 10_000);
      expect(await engine.visitorRevokedAt('site1', 'v1')).toBe(START + 50);
      expect(await engine.visitorRevokedAt('site1', 'v2')).toBeNull();
      expect(await engine.visitorRevokedAt('site2', 'v1')).toBeNull();
      // An older mark does not move it back; a later one moves it forward.
      await engine.revokeVisitor('site1', 'v1', START + 10, 10_000);
      expect(await engine.visitorRevokedAt('site1', 'v1')).toBe(START + 50);
      clock.t = START + 5_000;
      await engine.revokeVisitor('site1', 'v1', START + 4_000, 10_000);
      expect(await engine.visitorRevokedAt('site1', 'v1')).toBe(START + 4_000);
      // Kept 10 s from the last revocation (START + 5 s), then forgotten.
      clock.t = START + 14_999;
      expect(await engine.visitorRevokedAt('site1', 'v1')).toBe(START + 4_000);
      clock.t = START + 15_000;
      expect(await engine.visitorRevokedAt('site1', 'v1')).toBeNull();
    });

    // ---- persistence ----

    const reopen = harness.reopen?.bind(harness);
    if (reopen) {
      test('conversations, owners, logs, dedupe, the queue in order, dead letters, site state, read seq and context survive close and reopen', async () => {
        const a = await conversation({ id: 'pa', ownerKey: 'u:ann', identity: { userId: 'ann', verified: true }, context: { page: { title: 'Home' } } });
        const b = await conversation({ id: 'pb', ownerKey: 'v:bob' });
        await engine.mergeContext(a, { attrs: { plan: 'gold' } }, 64_000);
        await append(a, text('m1'), { webhook: 'message.created', start: true });
        await append(a, text('m2'), { webhook: 'message.created' });
        await append(b, text('b1'), { webhook: 'message.created' });
        await append(b, stored('bye', { type: 'closed' }));
        await engine.setReadSeq(a, 2);
        await engine.setOnline('site1', false);
        const [started, b1] = await engine.claimWebhooks(10, LEASE);
        expect(labels([started!, b1!])).toEqual(['conversation.started', 'b1']);
        await engine.deadLetter(b1!.id, b1!.lease, failure);
        await engine.retryWebhook(started!.id, started!.lease, 5000, failure);
        const before = {
          a: await engine.getConversation(a),
          b: await engine.getConversation(b),
          logA: await engine.read(a, 0, 100),
          logB: await engine.read(b, 0, 100),
          dead: await engine.listDeadLetters('site1'),
          list: await engine.listConversations('site1', { limit: 10 }),
        };

        engine = await reopen(engine, view);
        await engine.start();

        expect({
          a: await engine.getConversation(a),
          b: await engine.getConversation(b),
          logA: await engine.read(a, 0, 100),
          logB: await engine.read(b, 0, 100),
          dead: await engine.listDeadLetters('site1'),
          list: await engine.listConversations('site1', { limit: 10 }),
        }).toEqual(before);
        expect(before.a).toMatchObject({ started: true, readSeq: 2, lastSeq: 2, context: { page: { title: 'Home' }, attrs: { plan: 'gold' } } });
        expect(await engine.currentConversation('site1', 'u:ann')).toBe(a);
        expect(await engine.currentConversation('site1', 'v:bob')).toBe(b);
        expect(await engine.countConversations()).toBe(2);
        expect(await engine.getOnline('site1')).toBe(false);
        expect(await append(a, text('m1'), { webhook: 'message.created', start: true })).toMatchObject({ duplicate: true, seq: 1 });
        expect(await engine.nextWebhookAt()).toBe(START + 5000);
        expect(await engine.claimWebhooks(10, LEASE)).toEqual([]);
        clock.t = START + 5000;
        const rest = await drain();
        expect(labels(rest)).toEqual(['conversation.started', 'm1', 'm2']);
        expect(rest[0]).toMatchObject({ attempts: 2, lastError: failure });
        expect(await append(a, text('m3'))).toMatchObject({ duplicate: false, seq: 3 });
      });

      test('open streams and the feedback dedupe survive close and reopen', async () => {
        const c = await conversation();
        await append(c, text('b1', 'Answer', 'bot'));
        await engine.startStream(startReq(c, 's1'));
        await engine.appendStream(delta(c, 's1', 0, 'Half'));
        expect(await engine.enqueueFeedback({ conversationId: c, id: 'f1', messageId: 'b1', value: 'up', retention: keep })).toBe('queued');
        await drain();
        engine = await reopen(engine, view);
        await engine.start();
        expect(await engine.openStreams(c)).toEqual([{ conversationId: c, id: 's1', from: AI, text: 'Half', startedAt: START, updatedAt: START }]);
        expect(await engine.appendStream(delta(c, 's1', 4, ' done.'))).toEqual({ status: 'ok', length: 10, appended: true });
        expect(await engine.endStream(end(c, 's1'))).toMatchObject({ status: 'ended', seq: 2, entry: { body: { text: 'Half done.' } } });
        expect(await engine.enqueueFeedback({ conversationId: c, id: 'f1', messageId: 'b1', value: 'up', retention: keep })).toBe('duplicate');
      });

      test('leases held at close are claimable again right after reopen (a single-instance engine releases leases on start)', async () => {
        const c = await conversation();
        await append(c, text('m1'), { webhook: 'message.created' });
        await append(c, text('m2'), { webhook: 'message.created' });
        const held = await claimOne();
        engine = await reopen(engine, view);
        await engine.start();
        const again = await claimOne();
        expect(again).toMatchObject({ id: held.id, attempts: 2 });
        expect(again.lease).not.toBe(held.lease);
        expect(await engine.completeWebhook(held.id, held.lease)).toBe(false);
        expect(await engine.completeWebhook(again.id, again.lease)).toBe(true);
        expect(labels(await drain())).toEqual(['m2']);
      });
    }
  });
}
