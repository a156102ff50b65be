import { MinHeap } from './min-heap.js';
import type { WebhookJob } from './types.js';

/** A queued job. `seq` is its place in the queue: a retry gets a new one, at the end. */
interface Queued {
  job: WebhookJob;
  seq: number;
  lane: Lane;
}

/** One conversation's jobs. */
interface Lane {
  conversationId: string;
  /** Live jobs, the leased one included. */
  count: number;
  /** Jobs seen due, by queue order. */
  due: MinHeap<Queued>;
  /** Jobs not yet seen due, by due time. */
  later: MinHeap<Queued>;
  /** The job in flight, if any. */
  leased: Queued | null;
  leaseUntil: number;
  /** `due`'s first job's seq: the lane's place among lanes ready to claim. */
  readyKey: number;
  /** `later`'s earliest due time. */
  waitKey: number;
  readyIx: number;
  waitIx: number;
  leaseIx: number;
}

const bySeq = (a: Queued, b: Queued): boolean => a.seq < b.seq;
const byDue = (a: Queued, b: Queued): boolean => a.job.dueAt < b.job.dueAt || (a.job.dueAt === b.job.dueAt && a.seq < b.seq);

/**
 * The memory engine's webhook queue: one queue per conversation, and three heaps of
 * conversations — ready to claim (by queue order of their first due job), waiting for a due
 * time, and in flight (by lease expiry) — so a claim costs O(log n) per job claimed or
 * expired, whatever the backlog.
 *
 * Order is the queue's: enqueue order, and a retried job goes to the end. A claim takes, across
 * conversations with nothing in flight, the first due job of each, oldest first. Jobs not yet due
 * (waiting for a retry) are passed over, so they hold back neither other conversations nor the
 * later jobs of their own. Due times are taken as reached for good once a claim saw them reached.
 */
export class WebhookQueue {
  private readonly jobs = new Map<string, Queued>();
  private readonly lanes = new Map<string, Lane>();
  private seq = 0;
  private readonly ready = new MinHeap<Lane>(
    (a, b) => a.readyKey < b.readyKey,
    (lane, i) => (lane.readyIx = i),
  );
  private readonly waiting = new MinHeap<Lane>(
    (a, b) => a.waitKey < b.waitKey,
    (lane, i) => (lane.waitIx = i),
  );
  private readonly leased = new MinHeap<Lane>(
    (a, b) => a.leaseUntil < b.leaseUntil,
    (lane, i) => (lane.leaseIx = i),
  );

  /** Jobs queued, in flight included. */
  get size(): number {
    return this.jobs.size;
  }

  /** Queue jobs; an id already queued is ignored. */
  enqueue(jobs: readonly WebhookJob[]): void {
    for (const job of jobs) {
      if (this.jobs.has(job.id)) continue;
      const lane = this.lane(job.conversationId);
      const queued: Queued = { job: { ...job }, seq: ++this.seq, lane };
      this.jobs.set(job.id, queued);
      lane.count++;
      lane.later.push(queued);
      this.place(lane);
    }
  }

  /** Lease up to `max` due jobs, at most one per conversation, oldest first. */
  claim(now: number, max: number, leaseMs: number): WebhookJob[] {
    // Leases that ran out: the job is claimable again, at its place in the queue.
    for (let lane = this.leased.peek(); lane && lane.leaseUntil <= now; lane = this.leased.peek()) {
      const job = lane.leased!;
      lane.leased = null;
      if (this.jobs.get(job.job.id) === job) lane.due.push(job);
      this.place(lane);
    }
    // Jobs whose due time came.
    for (let lane = this.waiting.peek(); lane && lane.waitKey <= now; lane = this.waiting.peek()) {
      for (let next = lane.later.peek(); next && next.job.dueAt <= now; next = lane.later.peek()) {
        lane.later.pop();
        if (this.jobs.get(next.job.id) === next) lane.due.push(next);
      }
      this.place(lane);
    }
    const out: WebhookJob[] = [];
    while (out.length < max) {
      const lane = this.ready.peek();
      if (!lane) break;
      const job = lane.due.pop()!;
      lane.leased = job;
      lane.leaseUntil = now + leaseMs;
      this.place(lane);
      out.push({ ...job.job });
    }
    return out;
  }

  /**
   * The earliest time a claim can return a job: the first due time among conversations with
   * nothing in flight, or the first lease expiry. Null when the queue is empty.
   */
  nextAt(): number | null {
    let next = Infinity;
    const ready = this.ready.peek();
    if (ready) next = ready.due.peek()!.job.dueAt;
    const waiting = this.waiting.peek();
    if (waiting && waiting.waitKey < next) next = waiting.waitKey;
    const leased = this.leased.peek();
    if (leased && leased.leaseUntil < next) next = leased.leaseUntil;
    return next === Infinity ? null : next;
  }

  /** Drop a job (delivered or dead-lettered); its conversation's next job can go. */
  remove(id: string): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.jobs.delete(id);
    const { lane } = job;
    lane.count--;
    if (lane.leased === job) lane.leased = null;
    this.place(lane);
  }

  /** Put a job back at the end of the queue, due at `job.dueAt`. Ignored when it is no longer queued. */
  retry(job: WebhookJob): void {
    const old = this.jobs.get(job.id);
    if (!old) return;
    const { lane } = old;
    const queued: Queued = { job: { ...job }, seq: ++this.seq, lane };
    this.jobs.set(job.id, queued);
    if (lane.leased === old) lane.leased = null;
    lane.later.push(queued);
    this.place(lane);
  }

  private lane(conversationId: string): Lane {
    let lane = this.lanes.get(conversationId);
    if (!lane) {
      lane = {
        conversationId,
        count: 0,
        due: new MinHeap(bySeq),
        later: new MinHeap(byDue),
        leased: null,
        leaseUntil: 0,
        readyKey: 0,
        waitKey: 0,
        readyIx: -1,
        waitIx: -1,
        leaseIx: -1,
      };
      this.lanes.set(conversationId, lane);
    }
    return lane;
  }

  /** Drop jobs that left the queue from the tops of a lane's heaps, then file the lane in the heaps its state calls for. */
  private place(lane: Lane): void {
    this.prune(lane.due);
    this.prune(lane.later);
    const due = lane.leased ? undefined : lane.due.peek();
    const later = lane.leased ? undefined : lane.later.peek();
    if (due) lane.readyKey = due.seq;
    if (later) lane.waitKey = later.job.dueAt;
    this.file(this.ready, lane, lane.readyIx, due !== undefined);
    this.file(this.waiting, lane, lane.waitIx, later !== undefined);
    this.file(this.leased, lane, lane.leaseIx, lane.leased !== null);
    if (lane.count === 0) this.lanes.delete(lane.conversationId);
  }

  private prune(heap: MinHeap<Queued>): void {
    for (let top = heap.peek(); top && this.jobs.get(top.job.id) !== top; top = heap.peek()) heap.pop();
  }

  private file(heap: MinHeap<Lane>, lane: Lane, index: number, member: boolean): void {
    if (!member) {
      if (index >= 0) heap.removeAt(index);
    } else if (index >= 0) heap.update(index);
    else heap.push(lane);
  }
}
