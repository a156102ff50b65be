import { newId } from '../ids.js';
import { MinHeap } from './min-heap.js';
import { deepFreeze } from './shared.js';
import type { ClaimedJob, JobError, WebhookJob } from './types.js';

interface Queued {
  job: WebhookJob;
  /** Place in enqueue order; a retry keeps it. */
  seq: number;
  /** The token of the job's latest lease; null once settled or before the first claim. */
  lease: string | null;
}

type HeapName = 'ready' | 'waiting' | 'leased';

/** One conversation's jobs, first in first out: `jobs[head..]` (the slots before `head` are spent). Only the first can be claimed. */
interface Lane {
  conversationId: string;
  jobs: (Queued | undefined)[];
  head: number;
  /** The heap holding the lane, and its position there. */
  heap: HeapName | null;
  index: number;
  leaseUntil: number;
}

const first = (lane: Lane): Queued => lane.jobs[lane.head]!;

/**
 * The memory engine's webhook queue: a first-in-first-out lane per conversation, and three heaps of
 * lanes — `ready` (first job due, by enqueue order), `waiting` (first job not yet seen due, by due
 * time) and `leased` (first job in flight, by lease expiry) — so a claim costs O(log n) per job it
 * claims, expires or sees due, whatever the backlog.
 *
 * A retried job stays first in its lane and keeps its place in enqueue order, so it holds back the
 * later jobs of its own conversation and nothing else. A lease token stays valid until the job is
 * settled or claimed again: a lease that expired and was not yet claimed by anyone else can still
 * be settled by its holder.
 */
export class WebhookQueue {
  private readonly jobs = new Map<string, Queued>();
  private readonly lanes = new Map<string, Lane>();
  private seq = 0;
  /** A time at or before which every lane in `ready` became claimable (the ready heap orders by enqueue, not by due time). */
  private readyMin = Infinity;
  private readonly track = (lane: Lane, index: number): void => {
    lane.index = index;
  };
  private readonly heaps: Record<HeapName, MinHeap<Lane>> = {
    ready: new MinHeap<Lane>((a, b) => first(a).seq < first(b).seq, this.track),
    waiting: new MinHeap<Lane>((a, b) => {
      const x = first(a);
      const y = first(b);
      return x.job.dueAt < y.job.dueAt || (x.job.dueAt === y.job.dueAt && x.seq < y.seq);
    }, this.track),
    leased: new MinHeap<Lane>((a, b) => a.leaseUntil < b.leaseUntil, this.track),
  };

  /**
   * Lease tokens: a random prefix of this queue and a counter. They only have to differ from every
   * earlier lease of the same queue, which lives in one process.
   */
  constructor(private readonly newLease: () => string = counter(newId('l_') + '.')) {}

  /**
   * Queue `jobs` at the end of their conversations; an id already queued is ignored. The queue
   * keeps a copy of each job's record and freezes its event (and what the event holds), so claims
   * share the event instead of copying it: hand it events no one changes afterwards. True when
   * one of them became its conversation's first job.
   */
  enqueue(jobs: readonly WebhookJob[]): boolean {
    let head = false;
    for (const job of jobs) {
      if (this.jobs.has(job.id)) continue;
      const queued: Queued = { job: { ...job, event: deepFreeze(job.event) }, seq: ++this.seq, lease: null };
      this.jobs.set(job.id, queued);
      let lane = this.lanes.get(job.conversationId);
      if (!lane) {
        lane = { conversationId: job.conversationId, jobs: [], head: 0, heap: null, index: -1, leaseUntil: 0 };
        this.lanes.set(job.conversationId, lane);
      }
      lane.jobs.push(queued);
      if (lane.jobs.length - lane.head === 1) {
        this.file(lane, 'waiting');
        head = true;
      }
    }
    return head;
  }

  /** Lease up to `max` due jobs, the first of each conversation, oldest first. */
  claim(now: number, max: number, leaseMs: number): ClaimedJob[] {
    const { ready, waiting, leased } = this.heaps;
    for (let lane = leased.peek(); lane && lane.leaseUntil <= now; lane = leased.peek()) this.file(lane, 'waiting');
    for (let lane = waiting.peek(); lane && first(lane).job.dueAt <= now; lane = waiting.peek()) this.file(lane, 'ready');
    const out: ClaimedJob[] = [];
    while (out.length < max) {
      const lane = ready.peek();
      if (!lane) break;
      const queued = first(lane);
      const { job } = queued;
      const lease = (queued.lease = this.newLease());
      job.attempts++;
      job.firstAttemptAt ??= now;
      job.lastAttemptAt = now;
      lane.leaseUntil = now + leaseMs;
      this.file(lane, 'leased');
      // The event and the last error are frozen: the claim shares them. Built field by field, in one
      // shape whatever the job went through (a spread of jobs of many shapes is slow).
      const claimed: ClaimedJob = {
        id: job.id,
        siteKey: job.siteKey,
        conversationId: job.conversationId,
        event: job.event,
        attempts: job.attempts,
        enqueuedAt: job.enqueuedAt,
        firstAttemptAt: job.firstAttemptAt,
        lastAttemptAt: now,
        dueAt: job.dueAt,
        lease,
        leaseUntil: lane.leaseUntil,
      };
      if (job.lastError) claimed.lastError = job.lastError;
      out.push(claimed);
    }
    return out;
  }

  /**
   * The earliest time a claim can return a job: now or earlier when a job is ready, else the
   * earliest due time of a waiting first job or lease expiry. Null when the queue is empty.
   */
  nextAt(): number | null {
    const { ready, waiting, leased } = this.heaps;
    let next = Infinity;
    if (ready.peek()) next = this.readyMin;
    else this.readyMin = Infinity;
    const w = waiting.peek();
    if (w) next = Math.min(next, first(w).job.dueAt);
    const l = leased.peek();
    if (l) next = Math.min(next, l.leaseUntil);
    return next === Infinity ? null : next;
  }

  /** Keep the job first in its conversation, due at `dueAt`. False when `lease` is not the job's lease. */
  retry(id: string, lease: string, dueAt: number, error: JobError): boolean {
    const queued = this.leasedJob(id, lease);
    if (!queued) return false;
    const lane = this.lanes.get(queued.job.conversationId)!;
    this.detach(lane);
    queued.lease = null;
    queued.job.dueAt = dueAt;
    queued.job.lastError = Object.freeze({ ...error });
    this.file(lane, 'waiting');
    return true;
  }

  /** Remove the job, releasing its conversation's next one; returns it. Null when `lease` is not the job's lease. */
  take(id: string, lease: string): WebhookJob | null {
    const queued = this.leasedJob(id, lease);
    if (!queued) return null;
    const lane = this.lanes.get(queued.job.conversationId)!;
    this.detach(lane);
    this.jobs.delete(id);
    lane.jobs[lane.head++] = undefined;
    if (lane.head === lane.jobs.length) {
      this.lanes.delete(lane.conversationId);
      return queued.job;
    }
    if (lane.head >= 32 && lane.head * 2 >= lane.jobs.length) {
      lane.jobs.splice(0, lane.head);
      lane.head = 0;
    }
    this.file(lane, 'waiting');
    return queued.job;
  }

  /** A leased job is always first in its lane: only first jobs are claimed. */
  private leasedJob(id: string, lease: string): Queued | null {
    const queued = this.jobs.get(id);
    return queued && queued.lease !== null && queued.lease === lease ? queued : null;
  }

  private file(lane: Lane, heap: HeapName): void {
    this.detach(lane);
    if (heap === 'ready') this.readyMin = Math.min(this.heaps.ready.peek() ? this.readyMin : Infinity, first(lane).job.dueAt);
    lane.heap = heap;
    this.heaps[heap].push(lane);
  }

  private detach(lane: Lane): void {
    if (lane.heap === null) return;
    this.heaps[lane.heap].removeAt(lane.index);
    lane.heap = null;
  }
}

/** `prefix` and a count up from 1, in base 36. */
function counter(prefix: string): () => string {
  let n = 0;
  return () => prefix + (++n).toString(36);
}
