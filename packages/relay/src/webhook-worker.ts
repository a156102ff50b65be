import type { FastifyBaseLogger } from 'fastify';
import { LIMITS, WebhookReply, check, signWebhook } from '@parley/protocol';
import type { SiteConfig } from './config.js';
import { isEngineUnavailable, type ClaimedJob, type Engine, type JobError } from './engine/types.js';
import type { RelayMetrics } from './plugins/metrics.js';

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
  /** Deliveries in flight at once. */
  concurrency: number;
  /** Longest sleep between queue polls (other instances may enqueue). Default 1 s. */
  pollMs?: number;
  /** Append the messages of a 2xx reply. Throwing makes the delivery retry (reply ids are stable). */
  onReply: (job: ClaimedJob, reply: WebhookReply) => Promise<void>;
}

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
 */
export class WebhookWorker {
  private inflight = 0;
  private pumping = false;
  private again = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  /** A look at the queue is booked for the next turn of the event loop. */
  private booked: NodeJS.Immediate | undefined;
  private readonly running = new Set<Promise<void>>();
  /** Aborts the attempts in flight when a stop runs out of time. */
  private readonly abort = new AbortController();

  constructor(private readonly o: WebhookWorkerOptions) {}

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /**
   * Look at the queue soon (called after an enqueue). Kicks within one turn of the event loop
   * (a burst of enqueues, deliveries finishing together) come to one look.
   */
  kick(): void {
    if (this.stopped || this.booked) return;
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
    if (this.booked) clearImmediate(this.booked);
    this.booked = undefined;
    const all = Promise.allSettled([...this.running]);
    if (drainMs === Infinity) {
      await all;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), drainMs)));
    const outcome = await Promise.race([all, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.abort.abort();
      await all;
    }
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.again = false;
        while (!this.stopped && this.inflight < this.o.concurrency) {
          // Longer than an attempt may take, with room to record its outcome; a lease lost with its
          // instance (or with a claim whose answer never came back) delays that conversation by this much.
          const leaseMs = this.o.timeoutMs + 5_000;
          const jobs = await this.o.engine.claimWebhooks(this.o.concurrency - this.inflight, leaseMs);
          if (jobs.length === 0) break;
          for (const job of jobs) this.track(this.deliver(job));
        }
      } while (this.again && !this.stopped);
      await this.schedule();
    } catch (err) {
      this.engineFault(err, 'webhook queue poll failed');
      this.arm(this.o.pollMs ?? 1000);
    } finally {
      this.pumping = false;
    }
  }

  private track(delivery: Promise<void>): void {
    this.inflight++;
    // A delivery whose outcome could not be recorded (the engine went away) is left leased: the
    // lease runs out and the event goes again, as at-least-once allows.
    const p = delivery.catch((err: unknown) => this.engineFault(err, 'recording a webhook attempt failed; it will be retried when its lease runs out'));
    this.running.add(p);
    void p.finally(() => {
      this.inflight--;
      this.running.delete(p);
      this.kick();
    });
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), ms);
    this.timer.unref();
  }

  private async deliver(job: ClaimedJob): Promise<void> {
    const { engine, metrics, log } = this.o;
    const site = this.o.sites.get(job.siteKey);
    const started = this.o.now();
    if (!site) {
      await this.bury(job, { code: 'WEBHOOK_FAILED', message: 'The site is no longer configured.' });
      return;
    }
    const outcome = await this.attempt(site, job);
    const seconds = (this.o.now() - started) / 1000;
    if (outcome.ok) {
      metrics.webhookAttemptDuration.observe({ result: 'delivered' }, seconds);
      try {
        if (outcome.reply?.messages?.length) await this.o.onReply(job, outcome.reply);
      } catch (err) {
        log.error({ err, webhookId: job.id }, 'appending the webhook reply failed; the delivery will be retried');
        await this.fail(job, { result: 'network_error', error: { code: 'INTERNAL', message: 'The reply could not be appended.' } });
        return;
      }
      if (!(await engine.completeWebhook(job.id, job.lease))) {
        log.warn({ webhookId: job.id }, 'webhook delivered after its lease ran out; it may be delivered again');
      }
      metrics.webhookDeliveries.inc({ result: 'delivered' });
      metrics.webhookLatency.observe((this.o.now() - job.enqueuedAt) / 1000);
      log.debug({ webhookId: job.id, type: job.event.type, attempts: job.attempts }, 'webhook delivered');
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

  private async attempt(site: SiteConfig, job: ClaimedJob): Promise<{ ok: true; reply?: WebhookReply } | { ok: false; failure: Failure }> {
    const body = JSON.stringify(job.event);
    const timestamp = Math.floor(this.o.now() / 1000);
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    const signal = AbortSignal.any([timeout, this.abort.signal]);
    try {
      const signature = await signWebhook(site.webhookSecret, job.id, timestamp, body);
      const res = await fetch(site.webhookUrl, {
        method: 'POST',
        redirect: 'manual',
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'parley-relay',
          'webhook-id': job.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signature,
        },
        body,
      });
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel().catch(() => {});
        return { ok: false, failure: { result: 'http_error', error: { code: 'WEBHOOK_FAILED', message: `The backend answered HTTP ${res.status}.`, status: res.status } } };
      }
      return { ok: true, reply: await this.readReply(res, job) };
    } catch (err) {
      if (this.abort.signal.aborted) {
        return { ok: false, failure: { result: 'aborted', error: { code: 'WEBHOOK_FAILED', message: 'The relay stopped during the attempt.' } } };
      }
      if (timeout.aborted) {
        return { ok: false, failure: { result: 'timeout', error: { code: 'WEBHOOK_TIMEOUT', message: `No answer within ${this.o.timeoutMs} ms.` } } };
      }
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { ok: false, failure: { result: 'network_error', error: { code: 'WEBHOOK_FAILED', message: `Network error${cause ? ` (${cause})` : ''}.` } } };
    }
  }

  /** The inline reply of a 2xx answer; an empty or invalid body means no reply (logged, never retried). */
  private async readReply(res: Response, job: ClaimedJob): Promise<WebhookReply | undefined> {
    const type = res.headers.get('content-type') ?? '';
    const length = Number(res.headers.get('content-length') ?? 0);
    if (!type.includes('json') || length > LIMITS.maxBodyBytes) {
      await res.body?.cancel().catch(() => {});
      if (length > LIMITS.maxBodyBytes) this.o.log.warn({ webhookId: job.id, code: 'WEBHOOK_BAD_REPLY' }, 'webhook reply over the size limit; ignored');
      return undefined;
    }
    const text = await readCapped(res, LIMITS.maxBodyBytes);
    if (text === null) {
      this.o.log.warn({ webhookId: job.id, code: 'WEBHOOK_BAD_REPLY' }, 'webhook reply over the size limit; ignored');
      return undefined;
    }
    if (text.trim() === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.o.log.warn({ webhookId: job.id, code: 'WEBHOOK_BAD_REPLY' }, 'webhook reply is not JSON; ignored');
      return undefined;
    }
    const parsed = check(WebhookReply, value);
    if (!parsed.ok) {
      this.o.log.warn({ webhookId: job.id, code: 'WEBHOOK_BAD_REPLY', problem: parsed.message }, 'webhook reply does not match the schema; ignored');
      return undefined;
    }
    return parsed.value;
  }
}

/**
 * The body of a response as text, or null once it passes `maxBytes` (the rest is not read).
 * A reply without a content-length is read only up to the cap.
 */
async function readCapped(res: Response, maxBytes: number): Promise<string | null> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString('utf8');
}
