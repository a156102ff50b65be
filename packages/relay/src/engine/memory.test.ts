import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MemoryEngine } from './memory.js';
import type { WebhookJob } from './types.js';

const retention = { maxMessages: 3, maxAgeMs: 60_000 };
const text = (t: string) => ({ type: 'text' as const, text: t });

function job(id: string, conversationId: string, dueAt = 0): WebhookJob {
  return { id, siteKey: 's', conversationId, event: { id } as never, attempts: 0, enqueuedAt: 0, dueAt };
}

const ids = (jobs: WebhookJob[]) => jobs.map((j) => j.id);

/**
 * The queue's rules written as plainly as possible: one list in queue order (a retry moves the
 * job to the end), claims walk it oldest first, passing over jobs not yet due and conversations
 * with a lease that has not run out.
 */
class ReferenceQueue {
  private queue = new Map<string, WebhookJob>();
  private leases = new Map<string, number>();
  enqueue(jobs: WebhookJob[]): void {
    for (const j of jobs) if (!this.queue.has(j.id)) this.queue.set(j.id, { ...j });
  }
  claim(now: number, max: number, leaseMs: number): string[] {
    const busy = new Set<string>();
    for (const [id, until] of this.leases) {
      if (until <= now) this.leases.delete(id);
      else busy.add(this.queue.get(id)!.conversationId);
    }
    const out: string[] = [];
    for (const j of this.queue.values()) {
      if (out.length >= max) break;
      if (this.leases.has(j.id) || busy.has(j.conversationId) || j.dueAt > now) continue;
      busy.add(j.conversationId);
      this.leases.set(j.id, now + leaseMs);
      out.push(j.id);
    }
    return out;
  }
  remove(id: string): void {
    this.queue.delete(id);
    this.leases.delete(id);
  }
  retry(j: WebhookJob): void {
    if (!this.queue.has(j.id)) return;
    this.remove(j.id);
    this.queue.set(j.id, { ...j });
  }
  size(): number {
    return this.queue.size;
  }
}

describe('memory engine', () => {
  test('appends are idempotent on the id and numbered in order', async () => {
    const e = new MemoryEngine({ now: () => 1000 });
    const a = await e.append('c', { kind: 'msg', id: 'a', ts: 1, from: { role: 'visitor' }, body: text('a') }, retention);
    const again = await e.append('c', { kind: 'msg', id: 'a', ts: 2, from: { role: 'visitor' }, body: text('changed') }, retention);
    const b = await e.append('c', { kind: 'event', id: 'b', ts: 3, event: { type: 'queue', position: 1 } }, retention);
    expect([a.entry.seq, again.entry.seq, again.duplicate, b.entry.seq]).toEqual([1, 1, true, 2]);
    expect(again.entry).toMatchObject({ body: text('a') });
    expect(await e.read('c', 0, 10)).toMatchObject({ lastSeq: 2, hasMore: false, entries: [{ id: 'a' }, { id: 'b' }] });
    expect(await e.read('c', 1, 10)).toMatchObject({ entries: [{ id: 'b' }] });
    expect(await e.read('c', 0, 1)).toMatchObject({ entries: [{ id: 'a' }], hasMore: true });
  });

  test('retention keeps the newest maxMessages and drops entries older than maxAge', async () => {
    let now = 0;
    const e = new MemoryEngine({ now: () => now });
    for (let i = 1; i <= 5; i++) await e.append('c', { kind: 'msg', id: `m${i}`, ts: now, from: { role: 'bot' }, body: text(`${i}`) }, retention);
    expect((await e.read('c', 0, 10)).entries.map((x) => x.seq)).toEqual([3, 4, 5]);
    now = 120_000;
    await e.append('c', { kind: 'msg', id: 'm6', ts: now, from: { role: 'bot' }, body: text('6') }, retention);
    expect((await e.read('c', 0, 10)).entries.map((x) => x.seq)).toEqual([6]);
    // A log with nothing younger than maxAge is forgotten by the sweep.
    now = 300_000;
    e.sweep(now);
    expect(await e.read('c', 0, 10)).toEqual({ entries: [], lastSeq: 0, hasMore: false });
  });

  test('webhook claims are due-ordered, one in flight per conversation, and leases expire', async () => {
    const e = new MemoryEngine();
    await e.enqueueWebhooks([job('a1', 'A'), job('a2', 'A'), job('b1', 'B'), job('later', 'C', 500)]);
    expect((await e.claimWebhooks(0, 10, 100)).map((j) => j.id)).toEqual(['a1', 'b1']);
    expect(await e.claimWebhooks(0, 10, 100)).toEqual([]);
    await e.completeWebhook('a1');
    expect((await e.claimWebhooks(0, 10, 100)).map((j) => j.id)).toEqual(['a2']);
    // b1's lease ran out: it can be claimed again; `later` is now due.
    expect((await e.claimWebhooks(600, 10, 100)).map((j) => j.id).sort()).toEqual(['a2', 'b1', 'later']);
    await e.deadLetter({ ...job('b1', 'B'), attempts: 3, lastError: { code: 'WEBHOOK_FAILED', message: 'x', status: 500 } });
    expect(await e.listDeadLetters('s')).toMatchObject([{ attempts: 3, lastError: { status: 500 } }]);
  });

  test('markStarted is true exactly once', async () => {
    const e = new MemoryEngine();
    await e.createConversation({ id: 'c', siteKey: 's', visitorId: 'v', createdAt: 0, started: false, closed: false, context: {}, readSeq: 0 }, 'v:v');
    expect(await Promise.all([e.markStarted('c'), e.markStarted('c')])).toEqual([true, false]);
    expect(await e.currentConversation('s', 'v:v')).toBe('c');
  });

  test('a full log keeps exactly the newest maxMessages and reads stay contiguous', async () => {
    const e = new MemoryEngine({ now: () => 0 });
    const keep = { maxMessages: 50, maxAgeMs: 60_000 };
    const seqs = (entries: { seq: number }[]) => entries.map((x) => x.seq);
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    for (let n = 1; n <= 400; n++) {
      await e.append('c', { kind: 'msg', id: `m${n}`, ts: 0, from: { role: 'bot' }, body: text(`${n}`) }, keep);
      const first = Math.max(1, n - 49);
      const all = await e.read('c', 0, 1000);
      expect(seqs(all.entries)).toEqual(range(first, n));
      expect(all.entries[0]).toMatchObject({ id: `m${first}`, body: text(`${first}`) });
      // A page from the middle: contiguous, and hasMore says whether entries follow it.
      const after = first + Math.floor((n - first) / 2);
      const page = await e.read('c', after, 7);
      expect(seqs(page.entries)).toEqual(range(after + 1, Math.min(n, after + 7)));
      expect(page.hasMore).toBe(after + 7 < n);
    }
    // Ids still kept are duplicates; a trimmed id is no longer known.
    const kept = await e.append('c', { kind: 'msg', id: 'm360', ts: 0, from: { role: 'bot' }, body: text('again') }, keep);
    expect(kept).toMatchObject({ duplicate: true, entry: { seq: 360 } });
    const trimmed = await e.append('c', { kind: 'msg', id: 'm300', ts: 0, from: { role: 'bot' }, body: text('again') }, keep);
    expect(trimmed).toMatchObject({ duplicate: false, entry: { seq: 401 } });
  });

  test('a full log that ages out entirely reads empty and numbers on', async () => {
    let now = 0;
    const e = new MemoryEngine({ now: () => now });
    const keep = { maxMessages: 40, maxAgeMs: 1000 };
    for (let n = 1; n <= 100; n++) await e.append('c', { kind: 'msg', id: `m${n}`, ts: now, from: { role: 'bot' }, body: text(`${n}`) }, keep);
    now = 5000;
    await e.append('c', { kind: 'msg', id: 'late', ts: now, from: { role: 'bot' }, body: text('late') }, keep);
    expect(await e.read('c', 0, 100)).toMatchObject({ lastSeq: 101, hasMore: false, entries: [{ id: 'late', seq: 101 }] });
    expect(await e.read('c', 100, 100)).toMatchObject({ entries: [{ seq: 101 }] });
    expect(await e.read('c', 101, 100)).toMatchObject({ entries: [], lastSeq: 101 });
  });

  test('conversations with backlogs are each served once per claim, in enqueue order within each', async () => {
    const e = new MemoryEngine();
    const conversations = Array.from({ length: 12 }, (_, i) => `c${i}`);
    const enqueued = new Map<string, string[]>(conversations.map((c) => [c, []]));
    // Backlogs of different lengths, enqueued interleaved.
    for (let n = 0; n < 40; n++) {
      for (const [i, c] of conversations.entries()) {
        if (n >= 10 + i * 2) continue;
        enqueued.get(c)!.push(`${c}-${n}`);
        await e.enqueueWebhooks([job(`${c}-${n}`, c)]);
      }
    }
    const delivered = new Map<string, string[]>(conversations.map((c) => [c, []]));
    for (;;) {
      const claimed = await e.claimWebhooks(0, 100, 60_000);
      if (claimed.length === 0) break;
      const backlogged = conversations.filter((c) => delivered.get(c)!.length < enqueued.get(c)!.length);
      // Every conversation with a backlog gets its next job; none gets two.
      expect(claimed.map((j) => j.conversationId).sort()).toEqual(backlogged.sort());
      for (const j of claimed) {
        delivered.get(j.conversationId)!.push(j.id);
        await e.completeWebhook(j.id);
      }
    }
    expect(delivered).toEqual(enqueued);
    expect(await e.nextWebhookAt()).toBeNull();
  });

  test('claims go oldest first across conversations when fewer can go than are ready', async () => {
    const e = new MemoryEngine();
    await e.enqueueWebhooks([job('a1', 'A'), job('b1', 'B'), job('a2', 'A'), job('c1', 'C'), job('b2', 'B'), job('c2', 'C')]);
    expect(ids(await e.claimWebhooks(0, 2, 100))).toEqual(['a1', 'b1']);
    await e.completeWebhook('a1');
    // a2 was queued before c1.
    expect(ids(await e.claimWebhooks(0, 2, 100))).toEqual(['a2', 'c1']);
  });

  test('a job waiting for its retry holds back neither other conversations nor the later jobs of its own', async () => {
    const e = new MemoryEngine();
    await e.enqueueWebhooks([job('a1', 'A'), job('a2', 'A'), job('b1', 'B')]);
    const [a1] = await e.claimWebhooks(0, 1, 5000);
    expect(a1!.id).toBe('a1');
    await e.retryWebhook({ ...a1!, attempts: 1, dueAt: 1000, lastError: { code: 'WEBHOOK_FAILED', message: 'x' } });
    await e.enqueueWebhooks([job('b2', 'B', 10)]);
    expect(ids(await e.claimWebhooks(10, 10, 5000))).toEqual(['a2', 'b1']);
    await e.completeWebhook('b1');
    expect(ids(await e.claimWebhooks(20, 10, 5000))).toEqual(['b2']);
    await e.completeWebhook('a2');
    expect(await e.claimWebhooks(999, 10, 5000)).toEqual([]);
    const [again] = await e.claimWebhooks(1000, 10, 5000);
    expect(again).toMatchObject({ id: 'a1', attempts: 1, lastError: { code: 'WEBHOOK_FAILED' } });
  });

  test('a retried job that is due again waits behind the job of its conversation in flight', async () => {
    const e = new MemoryEngine();
    await e.enqueueWebhooks([job('a1', 'A'), job('a2', 'A')]);
    const [a1] = await e.claimWebhooks(0, 10, 5000);
    await e.retryWebhook({ ...a1!, attempts: 1, dueAt: 100 });
    expect(ids(await e.claimWebhooks(50, 10, 5000))).toEqual(['a2']);
    expect(await e.claimWebhooks(200, 10, 5000)).toEqual([]);
    await e.completeWebhook('a2');
    expect(ids(await e.claimWebhooks(200, 10, 5000))).toEqual(['a1']);
  });

  test('a lease that runs out makes its job claimable again, ahead of the later jobs of its conversation', async () => {
    const e = new MemoryEngine();
    await e.enqueueWebhooks([job('a1', 'A'), job('a2', 'A'), job('b1', 'B')]);
    expect(ids(await e.claimWebhooks(0, 1, 100))).toEqual(['a1']);
    expect(ids(await e.claimWebhooks(99, 10, 100))).toEqual(['b1']);
    expect(ids(await e.claimWebhooks(100, 10, 100))).toEqual(['a1']);
    await e.completeWebhook('a1');
    expect(ids(await e.claimWebhooks(100, 10, 100))).toEqual(['a2']);
    // b1's lease ran out at 199 too.
    expect(ids(await e.claimWebhooks(199, 10, 100))).toEqual(['b1']);
  });

  test('nextWebhookAt is the earliest time a claim can return a job', async () => {
    const e = new MemoryEngine();
    expect(await e.nextWebhookAt()).toBeNull();
    await e.enqueueWebhooks([job('x1', 'X', 300), job('y1', 'Y', 200)]);
    expect(await e.nextWebhookAt()).toBe(200);
    expect(await e.claimWebhooks(199, 10, 1000)).toEqual([]);
    expect(ids(await e.claimWebhooks(200, 10, 1000))).toEqual(['y1']);
    expect(await e.nextWebhookAt()).toBe(300);
    expect(ids(await e.claimWebhooks(300, 10, 1000))).toEqual(['x1']);
    // Both in flight: the first lease to run out.
    expect(await e.nextWebhookAt()).toBe(1200);
    // A job behind one in flight cannot go before that one finishes.
    await e.enqueueWebhooks([job('x2', 'X', 250)]);
    expect(await e.nextWebhookAt()).toBe(1200);
    await e.completeWebhook('x1');
    expect(await e.nextWebhookAt()).toBe(250);
    await e.enqueueWebhooks([job('z1', 'Z', 100)]);
    expect(await e.nextWebhookAt()).toBe(100);
    expect(ids(await e.claimWebhooks(300, 10, 1000))).toEqual(['x2', 'z1']);
    await e.completeWebhook('x2');
    await e.completeWebhook('z1');
    await e.completeWebhook('y1');
    expect(await e.nextWebhookAt()).toBeNull();
  });

  test('any sequence of queue operations claims what the plain queue rules claim', async () => {
    type Op =
      | { op: 'enqueue'; conversation: number; delay: number }
      | { op: 'claim'; advance: number; max: number }
      | { op: 'complete' | 'retry' | 'dead'; pick: number; delay: number }
      | { op: 'requeue'; pick: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('enqueue' as const), conversation: fc.integer({ min: 0, max: 4 }), delay: fc.constantFrom(0, 0, 0, 5, 50) }),
      fc.record({ op: fc.constant('claim' as const), advance: fc.constantFrom(0, 1, 10, 40, 200), max: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ op: fc.constantFrom('complete' as const, 'retry' as const, 'dead' as const), pick: fc.nat(), delay: fc.constantFrom(0, 10, 60) }),
      fc.record({ op: fc.constant('requeue' as const), pick: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80 }), async (ops) => {
        const e = new MemoryEngine();
        const ref = new ReferenceQueue();
        const known: WebhookJob[] = [];
        let now = 0;
        for (const o of ops) {
          if (o.op === 'enqueue') {
            const j = job(`j${known.length}`, `c${o.conversation}`, now + o.delay);
            known.push(j);
            await e.enqueueWebhooks([j]);
            ref.enqueue([j]);
          } else if (o.op === 'requeue') {
            // The same id again: ignored while queued, a new job once it left.
            if (known.length === 0) continue;
            const j = { ...known[o.pick % known.length]!, dueAt: now };
            await e.enqueueWebhooks([j]);
            ref.enqueue([j]);
          } else if (o.op === 'claim') {
            now += o.advance;
            const next = await e.nextWebhookAt();
            const claimed = ids(await e.claimWebhooks(now, o.max, 100));
            expect(claimed).toEqual(ref.claim(now, o.max, 100));
            // Nothing is claimable before nextWebhookAt; something is from then on.
            if (next === null) expect(ref.size()).toBe(0);
            else if (o.max > 0 && now >= next) expect(claimed.length).toBeGreaterThan(0);
            else if (next > now) expect(claimed).toEqual([]);
          } else {
            if (known.length === 0) continue;
            const j = known[o.pick % known.length]!;
            if (o.op === 'complete') {
              await e.completeWebhook(j.id);
              ref.remove(j.id);
            } else if (o.op === 'dead') {
              await e.deadLetter(j);
              ref.remove(j.id);
            } else {
              const retried = { ...j, attempts: j.attempts + 1, dueAt: now + o.delay };
              await e.retryWebhook(retried);
              ref.retry(retried);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
