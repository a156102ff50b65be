import type { FastifyBaseLogger } from 'fastify';
import type { z } from 'zod/mini';
import { Pool, type Dispatcher } from 'undici';
import { LIMITS, WebhookBatchReply, WebhookReply, check, type WebhookEvent } from '@parley/protocol';
import type { BackendSockets } from './backend-socket.js';
import type { SiteConfig } from './config.js';
import { isEngineUnavailable, type ClaimedJob, type Engine, type JobError } from './engine/types.js';
import { newId } from './ids.js';
import type { RelayMetrics } from './plugins/metrics.js';
import { signWebhookSync } from './webhook-signer.js';

export interface WebhookWorkerOptions {
  engine: Engine;
  sites: ReadonlyMap<string, SiteConfig>;
  metrics: RelayMetrics;
  log: FastifyBaseLogger;
  now: () => number;
  /** Randomness for jitter, in [0, 1). */
  random: () => number;
  /** Time the backend has to answer one attempt. */
  timeoutMs: number;
  /** Wait before each retry (ms); jitter is applied around each step. */
  retryScheduleMs: readonly number[];
  /** Deliveries in flight at once (a batched request is one delivery). */
  concurrency: number;
  /**
   * With a batching site: while deliveries are in flight, how long a look asked for by an enqueue
   * waits, so the events queued meanwhile go in the same batch. Default 0.
   */
  batchWaitMs?: number;
  /** Longest sleep between queue polls (other instances may enqueue). Default 1 s. */
  pollMs?: number;
  /** Append the messages of a 2xx reply. Throwing makes the delivery retry (reply ids are stable). */
  onReply: (job: ClaimedJob, reply: WebhookReply) => Promise<void>;
  /** Backend sockets (`/v1/backend`): each job goes to them first, per the site's `backendSocket` mode. */
  backendSockets?: Pick<BackendSockets, 'deliver'>;
}

/** A job's event as JSON: as the engine stored it when it kept it, else serialised. */
const jsonOf = (job: ClaimedJob): string => job.eventJson ?? JSON.stringify(job.event);

type Failure = { result: 'http_error' | 'timeout' | 'network_error' | 'aborted'; error: JobError };

/**
 * Full jitter around a schedule step: the wait is uniform in [0, 2·step), so retries never
 * come in lockstep and the mean wait is the step itself.
 */
export function jitter(stepMs: number, random: () => number): number {
  return Math.floor(random() * 2 * stepMs);
}

/**
 * Delivers queued webhook events: signs each attempt (Standard Webhooks), retries per the
 * schedule with full jitter, dead-letters when the schedule runs out, and appends inline replies.
 * A site with `webhookBatch` above 1 gets the events claimed together in one request (at most one
 * per conversation: a claim hands out only each conversation's next event).
 */
export class WebhookWorker {
  private inflight = 0;
  private pumping = false;
  private again = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  /** When `timer` fires, on the `performance.now()` clock. */
  private timerAt = 0;
  /** A look at the queue is booked for the next turn of the event loop. */
  private booked: NodeJS.Immediate | undefined;
  /** A look asked for by an enqueue waits `batchWaitMs` for more events to batch. */
  private lingering: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  /** The POSTs in flight, cut when a stop runs out of time. */
  private readonly posts = new Set<Post>();
  /** A stop ran out of time: attempts still starting are cut at once. */
  private cutting = false;
  /** One keep-alive pool per backend origin. */
  private readonly pools = new Map<string, Pool>();
  /** Where each webhook URL is POSTed: its origin's pool and its path. */
  private readonly targets = new Map<string, { pool: Pool; path: string }>();

  /** The largest `webhookBatch` of any site: a claim asks for that many events per free slot. */
  private readonly maxBatch: number;

  /** The metrics of a delivered event, its labels resolved once (each event of a batch counts). */
  private readonly delivered: { duration: { observe(value: number): void }; count: { inc(): void } };

  constructor(private readonly o: WebhookWorkerOptions) {
    this.delivered = {
      duration: o.metrics.webhookAttemptDuration.labels({ result: 'delivered' }),
      count: o.metrics.webhookDeliveries.labels({ result: 'delivered' }),
    };
    let max = 1;
    for (const site of o.sites.values()) max = Math.max(max, site.webhookBatch);
    this.maxBatch = max;
  }

  start(): void {
    this.stopped = false;
    this.cutting = false;
    this.kick();
  }

  /**
   * Look at the queue soon (`queued`: events were just queued). Kicks within one turn of the event
   * loop (a burst of enqueues, deliveries finishing together) come to one look. (An event queued
   * behind an earlier one of its conversation asks for none: settling that one looks.)
   */
  kick(queued = false): void {
    if (this.stopped || this.booked) return;
    if (queued) {
      if (this.lingering) return;
      const wait = this.o.batchWaitMs ?? 0;
      if (this.maxBatch > 1 && this.inflight > 0 && wait > 0) {
        this.lingering = setTimeout(() => {
          this.lingering = undefined;
          this.kick();
        }, wait);
        return;
      }
    }
    this.booked = setImmediate(() => {
      this.booked = undefined;
      if (this.stopped) return;
      if (this.pumping) {
        this.again = true;
        return;
      }
      void this.pump();
    });
  }

  /**
   * Stop claiming and wait for the attempts in flight, at most `drainMs`; attempts still running
   * then are aborted. An aborted attempt is not settled: its lease runs out (a single-instance
   * engine releases it at the next start), so the event is delivered again after a restart.
   */
  async stop(drainMs = Infinity): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.booked) clearImmediate(this.booked);
    this.booked = undefined;
    if (this.lingering) clearTimeout(this.lingering);
    this.lingering = undefined;
    const all = Promise.allSettled([...this.running]);
    if (drainMs === Infinity) {
      await all;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), drainMs)));
      const outcome = await Promise.race([all, late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        this.cutting = true;
        for (const post of this.posts) post.cut('aborted');
        await all;
      }
    }
    // Every outcome is recorded: close the keep-alive connections (and any ignored body still draining).
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.targets.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    // This look takes whatever a lingering one would have.
    if (this.lingering) clearTimeout(this.lingering);
    this.lingering = undefined;
    try {
      do {
        this.again = false;
        while (!this.stopped && this.inflight < this.o.concurrency) {
          // Longer than an attempt may take, with room to record its outcome; a lease lost with its
          // instance (or with a claim whose answer never came back) delays that conversation by this much.
          const leaseMs = this.o.timeoutMs + 5_000;
          const max = (this.o.concurrency - this.inflight) * this.maxBatch;
          const jobs = await this.o.engine.claimWebhooks(max, leaseMs);
          for (const group of this.group(jobs)) this.track(group.length === 1 ? this.deliver(group[0]!) : this.deliverBatch(group));
          // Fewer than asked for: nothing else is due now, so no second look (an enqueue kicks again).
          if (jobs.length < max) break;
        }
      } while (this.again && !this.stopped);
      // While deliveries are in flight, the end of each looks at the queue again: ask the engine
      // when the next job is due only once none is (the poll timer bounds the wait meanwhile). On
      // Redis that is one script fewer per delivery.
      if (this.inflight > 0) this.arm(this.o.pollMs ?? 1000);
      else await this.schedule();
    } catch (err) {
      this.engineFault(err, 'webhook queue poll failed');
      this.arm(this.o.pollMs ?? 1000);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The deliveries of claimed jobs: each site's jobs in batches of at most its `webhookBatch`,
   * in claim order. With sites of different batch sizes on one relay, a claim sized for the
   * largest may start more deliveries than free slots; the keep-alive pool still sends at most
   * `concurrency` requests at once.
   */
  private group(jobs: readonly ClaimedJob[]): ClaimedJob[][] {
    if (this.maxBatch === 1) return jobs.map((job) => [job]);
    const bySite = new Map<string, ClaimedJob[][]>();
    const out: ClaimedJob[][] = [];
    for (const job of jobs) {
      const size = this.o.sites.get(job.siteKey)?.webhookBatch ?? 1;
      let batches = bySite.get(job.siteKey);
      if (!batches) bySite.set(job.siteKey, (batches = []));
      let last = batches[batches.length - 1];
      if (!last || last.length >= size) {
        batches.push((last = []));
        out.push(last);
      }
      last.push(job);
    }
    return out;
  }

  private track(delivery: Promise<void>): void {
    this.inflight++;
    // A delivery whose outcome could not be recorded (the engine went away) is left leased: the
    // lease runs out and the event goes again, as at-least-once allows.
    const p: Promise<void> = delivery.then(
      () => this.settled(p),
      (err: unknown) => {
        this.engineFault(err, 'recording a webhook attempt failed; it will be retried when its lease runs out');
        this.settled(p);
      },
    );
    this.running.add(p);
  }

  /** A delivery is over: its slot is free for the next claim. */
  private settled(delivery: Promise<void>): void {
    this.inflight--;
    this.running.delete(delivery);
    this.kick();
  }

  /** Log an engine failure: a warning while the engine is unreachable (it reconnects), else an error. */
  private engineFault(err: unknown, message: string): void {
    if (isEngineUnavailable(err)) this.o.log.warn({ code: 'NOT_READY' }, message);
    else this.o.log.error({ err }, message);
  }

  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.o.engine.nextWebhookAt();
    const poll = this.o.pollMs ?? 1000;
    const wait = next === null ? poll : Math.min(poll, Math.max(0, next - this.o.now()));
    this.arm(wait);
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    const at = performance.now() + ms;
    // A look booked no later than this one does as well: a look that comes early finds nothing and books again.
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
    this.timer.unref();
  }

  private async deliver(job: ClaimedJob): Promise<void> {
    const site = this.o.sites.get(job.siteKey);
    const started = this.o.now();
    if (!site) {
      await this.bury(job, { code: 'WEBHOOK_FAILED', message: 'The site is no longer configured.' });
      return;
    }
    if (this.o.backendSockets) {
      // Settled over a backend socket (or left waiting for one), or handed back for a webhook.
      const handedBack = await this.o.backendSockets.deliver(site, job);
      if (!handedBack) return;
      job = handedBack;
    }
    await this.postOne(site, job, started);
  }

  private async postOne(site: SiteConfig, job: ClaimedJob, started: number): Promise<void> {
    const outcome = await this.attempt(site, job.id, jsonOf(job));
    await this.settle(job, outcome, outcome.ok ? this.readReply(WebhookReply, outcome.answer, job.id) : undefined, started);
  }

  /**
   * Several claimed jobs of one site (each of another conversation) in one request. Those a backend
   * socket takes go over it first; the rest are POSTed together, or alone when only one is left.
   */
  private async deliverBatch(jobs: ClaimedJob[]): Promise<void> {
    const site = this.o.sites.get(jobs[0]!.siteKey)!;
    const started = this.o.now();
    if (this.o.backendSockets) {
      const { backendSockets } = this.o;
      const handedBack = await Promise.all(jobs.map((job) => backendSockets.deliver(site, job)));
      jobs = handedBack.filter((job): job is ClaimedJob => job !== null);
      if (jobs.length === 0) return;
    }
    if (jobs.length === 1) return this.postOne(site, jobs[0]!, started);
    const id = `batch_${newId()}`;
    // A WebhookBatch, `{type: "batch", id, events}`, of the events' JSON as stored.
    const body = `{"type":"batch","id":${JSON.stringify(id)},"events":[${jobs.map(jsonOf).join(',')}]}`;
    const outcome = await this.attempt(site, id, body, this.o.timeoutMs, LIMITS.maxBodyBytes * jobs.length);
    this.o.metrics.webhookBatchEvents.observe(jobs.length);
    const replies = outcome.ok ? this.readReply(WebhookBatchReply, outcome.answer, id)?.replies : undefined;
    this.o.log.debug({ webhookId: id, events: jobs.length, ok: outcome.ok }, 'webhook batch attempted');
    // A job's id is its event's id.
    await Promise.all(jobs.map((job) => this.settle(job, outcome, replies?.[job.id], started)));
  }

  /** Record the outcome of one job's attempt: append its reply and complete it, or retry it. */
  private async settle(job: ClaimedJob, outcome: AttemptOutcome, reply: WebhookReply | undefined, started: number): Promise<void> {
    const { engine, metrics, log } = this.o;
    const seconds = (this.o.now() - started) / 1000;
    if (outcome.ok) {
      this.delivered.duration.observe(seconds);
      try {
        if (reply?.messages?.length) await this.o.onReply(job, reply);
      } catch (err) {
        log.error({ err, webhookId: job.id }, 'appending the webhook reply failed; the delivery will be retried');
        await this.fail(job, { result: 'network_error', error: { code: 'INTERNAL', message: 'The reply could not be appended.' } });
        return;
      }
      if (!(await engine.completeWebhook(job.id, job.lease))) {
        log.warn({ webhookId: job.id }, 'webhook delivered after its lease ran out; it may be delivered again');
      }
      this.delivered.count.inc();
      metrics.webhookLatency.observe((this.o.now() - job.enqueuedAt) / 1000);
      // The event's type only when it is logged: reading it parses the event.
      if (log.level === 'debug' || log.level === 'trace') log.debug({ webhookId: job.id, type: job.event.type, attempts: job.attempts }, 'webhook delivered');
      return;
    }
    metrics.webhookAttemptDuration.observe({ result: outcome.failure.result }, seconds);
    // A shutdown cut the attempt short: leave the job leased, to be delivered after the restart.
    if (outcome.failure.result === 'aborted') return;
    await this.fail(job, outcome.failure);
  }

  private async fail(job: ClaimedJob, failure: Failure): Promise<void> {
    const { engine, metrics, log } = this.o;
    metrics.webhookDeliveries.inc({ result: failure.result });
    const step = this.o.retryScheduleMs[job.attempts - 1];
    if (step === undefined) {
      await this.bury(job, failure.error);
      return;
    }
    await engine.retryWebhook(job.id, job.lease, jitter(step, this.o.random), failure.error);
    metrics.webhookRetries.inc();
    log.warn({ webhookId: job.id, type: job.event.type, attempts: job.attempts, code: failure.error.code, status: failure.error.status }, 'webhook attempt failed; will retry');
  }

  private async bury(job: ClaimedJob, error: JobError): Promise<void> {
    if (!(await this.o.engine.deadLetter(job.id, job.lease, error))) return;
    this.o.metrics.webhookDeadLetters.inc();
    this.o.log.error({ webhookId: job.id, type: job.event.type, attempts: job.attempts, code: error.code }, 'webhook dead-lettered');
  }

  /**
   * POST an ephemeral event once (the visitor's typing or read mark): signed like every webhook,
   * never queued nor retried, its reply ignored. False when it failed or the worker is stopped.
   */
  async sendOnce(site: SiteConfig, event: WebhookEvent): Promise<boolean> {
    if (this.stopped) return false;
    const outcome = await this.attempt(site, event.id, JSON.stringify(event));
    return outcome.ok;
  }

  /**
   * POST an event once and return the backend's reply (`upload.requested`, which a visitor waits
   * for): signed like every webhook, never queued nor retried, bounded by `timeoutMs`.
   */
  async ask(site: SiteConfig, event: WebhookEvent, timeoutMs: number): Promise<{ ok: true; reply?: WebhookReply } | { ok: false; error: JobError }> {
    if (this.stopped) return { ok: false, error: { code: 'WEBHOOK_FAILED', message: 'The relay is stopping.' } };
    const outcome = await this.attempt(site, event.id, JSON.stringify(event), timeoutMs);
    return outcome.ok ? { ok: true, reply: this.readReply(WebhookReply, outcome.answer, event.id) } : { ok: false, error: outcome.failure.error };
  }

  /** POST `json` (an event or a batch) once, signed with `id` as its `webhook-id`. */
  private async attempt(site: SiteConfig, id: string, json: string, timeoutMs = this.o.timeoutMs, maxBytes: number = LIMITS.maxBodyBytes): Promise<AttemptOutcome> {
    if (!site.webhookUrl || !site.webhookSecret) {
      // Only a backendSocket "only" site has no webhook, and its events never come here.
      return { ok: false, failure: { result: 'network_error', error: { code: 'WEBHOOK_FAILED', message: 'The site has no webhookUrl.' } } };
    }
    const { webhookUrl, webhookSecret } = site;
    const post = new Post(timeoutMs, maxBytes);
    let answer: PostResult;
    try {
      const body = Buffer.from(json);
      const timestamp = Math.floor(this.o.now() / 1000);
      const { pool, path } = this.target(webhookUrl);
      this.posts.add(post);
      if (this.cutting) post.cut('aborted');
      // A Buffer body goes out with its content-length, in the same write as the headers.
      pool.dispatch(
        {
          path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'parley-relay',
            'webhook-id': id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signWebhookSync(webhookSecret, id, timestamp, body),
          },
          body,
        },
        post,
      );
      answer = await post.done;
    } catch (err) {
      // Nothing went out (a bad URL or secret): stop the timer and fail the attempt.
      post.cut('aborted');
      answer = { kind: 'error', error: err as Error };
    } finally {
      this.posts.delete(post);
    }
    switch (answer.kind) {
      case 'aborted':
        return { ok: false, failure: { result: 'aborted', error: { code: 'WEBHOOK_FAILED', message: 'The relay stopped during the attempt.' } } };
      case 'timeout':
        return { ok: false, failure: { result: 'timeout', error: { code: 'WEBHOOK_TIMEOUT', message: `No answer within ${timeoutMs} ms.` } } };
      case 'error': {
        const { code } = answer.error as { code?: string };
        return { ok: false, failure: { result: 'network_error', error: { code: 'WEBHOOK_FAILED', message: `Network error${code ? ` (${code})` : ''}.` } } };
      }
    }
    // Redirects are not followed: a 3xx is a failure like any other non-2xx.
    if (answer.status < 200 || answer.status > 299) {
      return { ok: false, failure: { result: 'http_error', error: { code: 'WEBHOOK_FAILED', message: `The backend answered HTTP ${answer.status}.`, status: answer.status } } };
    }
    return { ok: true, answer };
  }

  /** The pool and path a webhook URL is POSTed to; one pool per origin, kept until `stop`. */
  private target(url: string): { pool: Pool; path: string } {
    let target = this.targets.get(url);
    if (!target) {
      const { origin, pathname, search } = new URL(url);
      let pool = this.pools.get(origin);
      if (!pool) {
        // No timeouts of undici's own: each attempt's one timer (Post) bounds it from start to end.
        pool = new Pool(origin, { connections: this.o.concurrency, headersTimeout: 0, bodyTimeout: 0 });
        this.pools.set(origin, pool);
      }
      target = { pool, path: pathname + search };
      this.targets.set(url, target);
    }
    return target;
  }

  /** The inline reply of a 2xx answer; an empty or invalid body means no reply (logged, never retried). */
  private readReply<T>(schema: z.ZodMiniType<T>, answer: Answer, webhookId: string): T | undefined {
    const { body } = answer;
    if (body === undefined) return undefined;
    if (body === null) {
      this.o.log.warn({ webhookId, code: 'WEBHOOK_BAD_REPLY' }, 'webhook reply over the size limit; ignored');
      return undefined;
    }
    if (body.trim() === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      this.o.log.warn({ webhookId, code: 'WEBHOOK_BAD_REPLY' }, 'webhook reply is not JSON; ignored');
      return undefined;
    }
    const parsed = check(schema, value);
    if (!parsed.ok) {
      this.o.log.warn({ webhookId, code: 'WEBHOOK_BAD_REPLY', problem: parsed.message }, 'webhook reply does not match the schema; ignored');
      return undefined;
    }
    return parsed.value;
  }
}

/**
 * A backend's answer. `body` is the text of a 2xx JSON reply; null when it passed the size cap
 * (the rest is not read); undefined when it is not read at all (another status or content type).
 */
type Answer = { kind: 'answer'; status: number; body: string | null | undefined };

type PostResult = Answer | { kind: 'timeout' | 'aborted' } | { kind: 'error'; error: Error };

/** One attempt: the backend's 2xx answer, or why it failed. */
type AttemptOutcome = { ok: true; answer: Answer } | { ok: false; failure: Failure };

/**
 * One webhook POST, as an undici dispatch handler: no Request, stream or AbortSignal per delivery.
 * It settles once with the answer, a timeout (one timer from dispatch to the end of the body), a
 * cut (the relay stopping) or a network error. A body it does not keep is drained in the
 * background, so the connection can be reused, up to the size cap and within the same timer.
 */
class Post implements Dispatcher.DispatchHandler {
  readonly done: Promise<PostResult>;
  private settle!: (result: PostResult) => void;
  private settled = false;
  /** Aborts the request once it has started; a request cut before that is aborted as it starts. */
  private controller: Dispatcher.DispatchController | undefined;
  private readonly timer: NodeJS.Timeout;
  private status = 0;
  /** The chunks of a body being kept; undefined while the body is not kept. */
  private parts: Buffer[] | undefined;
  private size = 0;

  constructor(
    timeoutMs: number,
    private readonly maxBytes: number,
  ) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.timer = setTimeout(() => this.cut('timeout'), timeoutMs);
  }

  /** Give up on the request: settle with `why` (unless settled already) and abort it. */
  cut(why: 'timeout' | 'aborted'): void {
    this.finish({ kind: why });
    clearTimeout(this.timer);
    this.controller?.abort(new Error(why === 'timeout' ? 'Webhook attempt timed out.' : 'The relay stopped.'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.settled) controller.abort(new Error('The attempt was cut before it started.'));
    else this.controller = controller;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200 || this.settled) return;
    this.status = statusCode;
    const type = String(headers['content-type'] ?? '');
    const length = Number(headers['content-length'] ?? 0);
    if (statusCode > 299 || !type.includes('json')) return this.finish({ kind: 'answer', status: statusCode, body: undefined });
    if (length > this.maxBytes) {
      this.finish({ kind: 'answer', status: statusCode, body: null });
      return this.abort(controller);
    }
    this.parts = [];
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.finish({ kind: 'answer', status: this.status, body: null });
      return this.abort(controller);
    }
    this.parts?.push(chunk);
  }

  onResponseEnd(): void {
    clearTimeout(this.timer);
    this.finish({ kind: 'answer', status: this.status, body: this.parts && Buffer.concat(this.parts).toString('utf8') });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    clearTimeout(this.timer);
    this.finish({ kind: 'error', error });
  }

  private finish(result: PostResult): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(result);
  }

  private abort(controller: Dispatcher.DispatchController): void {
    clearTimeout(this.timer);
    this.parts = undefined;
    controller.abort(new Error('The webhook reply passed the size cap.'));
  }
}
