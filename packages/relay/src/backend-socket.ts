import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import {
  CLOSE,
  MAX_BACKEND_FRAME_BYTES,
  PROTOCOL_VERSION,
  decodeBackendFrame,
  errorInfo,
  frameIdOf,
  isErrorCode,
  type BackendClientFrame,
  type BackendServerFrame,
  type ErrorInfo,
  type WebhookEvent,
  type WebhookReply,
} from '@parley/protocol';
import { conversationOfSite, postEvent, postMessage } from './backend-writes.js';
import type { SiteConfig } from './config.js';
import type { ConversationService } from './conversation-service.js';
import { backendTopic, isEngineUnavailable, type ClaimedJob, type Engine, type JobError } from './engine/types.js';
import { CodedError } from './errors.js';
import { newId } from './ids.js';
import type { RelayMetrics } from './plugins/metrics.js';
import type { Streams } from './streams.js';
import { jitter } from './webhook-worker.js';

/** What became of one event sent over a backend socket. */
type Outcome = { acked: true; reply: WebhookReply } | { acked: false; why: 'closed' | 'timeout' };

export interface BackendSocketsOptions {
  engine: Engine;
  service: ConversationService;
  /** Steps of streamed answers (`stream` frames). */
  streams: Streams;
  metrics: RelayMetrics;
  log: FastifyBaseLogger;
  now: () => number;
  /** Randomness for retry jitter, in [0, 1). */
  random: () => number;
  /** Time a backend has to ack one event: the webhook attempt timeout. */
  timeoutMs: number;
  /** The webhook retry schedule; an unacked event (timeout) follows it like a failed webhook. */
  retryScheduleMs: readonly number[];
  /** In `only` mode with no socket connected, a waiting event is looked at again after this long. Default 1000 ms. */
  waitMs?: number;
  /** Invalid frames tolerated on one socket before it is closed. */
  maxInvalidFrames: number;
  /** Append the messages of an ack's inline reply, as for a webhook reply. Throwing makes the delivery retry. */
  onReply: (job: ClaimedJob, reply: WebhookReply) => Promise<void>;
  /** Called when a socket connects, so events waiting for one go at once. */
  onConnect: () => void;
}

/** An event sent over a socket, waiting for its ack until `until` (`performance.now()`). */
interface Pending {
  resolve: (outcome: Outcome) => void;
  until: number;
}

/** The stream under a `ws` socket (`_socket`), corked while one turn's frames gather. */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Frames gathered in one turn go out early once they pass this many bytes. */
const BATCH_BYTES = 64 * 1024;

/** Jobs whose uncounted attempts are remembered (socket drops, waits); beyond it the oldest are forgotten. */
const MAX_REMEMBERED_JOBS = 100_000;

/**
 * The backend sockets connected to this relay instance, by site, and event delivery over them.
 *
 * The webhook queue stays the one queue: the webhook worker hands each claimed job to `deliver`,
 * which sends it over a socket of the job's site and settles it on the ack, or hands it back for a
 * webhook. A conversation's events go to one socket at a time (rendezvous hashing of the
 * conversation id over the site's sockets) and the queue has one job per conversation in flight,
 * so each conversation's order holds across sockets.
 *
 * Retries: a socket that closes before its ack is not the backend's failure: the event goes again
 * at once and the attempt does not count toward the retry schedule. An ack that does not come
 * within `timeoutMs` counts like a webhook timeout. In `only` mode an event with no socket to go to
 * waits (`waitMs`), uncounted, never dead-lettered for it. Uncounted attempts are remembered in
 * this instance's memory only (a restart forgets them, and the schedule restarts from the engine's
 * attempt count).
 */
export class BackendSockets {
  private readonly bySite = new Map<string, BackendLink[]>();
  private readonly uncounted = new Map<string, number>();
  private readonly waitMs: number;
  /** Per site with a socket here: the subscription to visitors' typing and read marks from other relay instances. */
  private readonly activity = new Map<string, Promise<() => void>>();

  constructor(private readonly o: BackendSocketsOptions) {
    this.waitMs = o.waitMs ?? 1000;
  }

  /** Accept a socket authenticated for `site`: it receives events from now on. */
  connect(site: SiteConfig, ws: WebSocket): BackendLink {
    const link = new BackendLink(site, ws, this.o);
    const links = [...(this.bySite.get(site.siteKey) ?? []), link];
    this.bySite.set(site.siteKey, links);
    if (!this.activity.has(site.siteKey)) this.listenToActivity(site.siteKey);
    ws.on('close', () => {
      const rest = (this.bySite.get(site.siteKey) ?? []).filter((l) => l !== link);
      if (rest.length) this.bySite.set(site.siteKey, rest);
      else {
        this.bySite.delete(site.siteKey);
        this.stopActivity(site.siteKey);
      }
      link.closed();
    });
    link.send({ t: 'ready', v: PROTOCOL_VERSION, siteKey: site.siteKey, mode: site.backendSocket === 'only' ? 'only' : 'fallback' });
    this.o.onConnect();
    return link;
  }

  /**
   * Visitors on other relay instances: their typing and read marks come through the engine's
   * fan-out (visitor-activity.ts publishes them when it has no socket of the site) and go to the
   * socket that gets the conversation's events here.
   */
  private listenToActivity(siteKey: string): void {
    const subscription = this.o.engine.subscribe(backendTopic(siteKey), (item) => {
      if (item.kind === 'backend') this.pick(siteKey, item.frame.conversationId)?.send(item.frame);
    });
    this.activity.set(siteKey, subscription);
    subscription.catch((err: unknown) => {
      if (this.activity.get(siteKey) === subscription) this.activity.delete(siteKey);
      this.o.log.warn({ err, siteKey }, 'visitor activity from other relay instances will not reach this backend socket');
    });
  }

  private stopActivity(siteKey: string): void {
    const subscription = this.activity.get(siteKey);
    this.activity.delete(siteKey);
    subscription?.then(
      (stop) => stop(),
      () => {},
    );
  }

  /** Sockets of a site connected to this instance. */
  count(siteKey: string): number {
    return this.bySite.get(siteKey)?.length ?? 0;
  }

  /** Every connected socket, for shutdown. */
  all(): BackendLink[] {
    return [...this.bySite.values()].flat();
  }

  /** The socket a conversation's events go to: the highest hash of (conversation, socket) wins. */
  pick(siteKey: string, conversationId: string): BackendLink | undefined {
    let best: BackendLink | undefined;
    let bestScore = -1;
    for (const link of this.bySite.get(siteKey) ?? []) {
      if (!link.isOpen) continue;
      const score = fnv1a(`${conversationId}|${link.id}`);
      if (score > bestScore || (score === bestScore && best && link.id < best.id)) {
        best = link;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * The webhook worker's routing step for one claimed job: deliver it over a socket and settle it
   * (null), or hand it back for a webhook, with the attempts that did not count taken off.
   */
  async deliver(site: SiteConfig, job: ClaimedJob): Promise<ClaimedJob | null> {
    if (site.backendSocket === 'off') return job;
    const link = this.pick(site.siteKey, job.conversationId);
    if (!link) {
      if (site.backendSocket === 'fallback') return this.counted(job);
      await this.retryUncounted(job, this.waitMs, { code: 'BACKEND_SOCKET_ABSENT', message: 'No backend socket is connected; waiting for one.' });
      return null;
    }
    const started = this.o.now();
    const outcome = await link.deliver(job.event, this.o.timeoutMs);
    const { metrics, log } = this.o;
    if (!outcome.acked) {
      metrics.webhookDeliveries.inc({ result: `socket_${outcome.why}` });
      if (outcome.why === 'closed') {
        await this.retryUncounted(job, 0, { code: 'BACKEND_SOCKET_CLOSED', message: 'The backend socket closed before the ack.' });
      } else {
        await this.fail(job, { code: 'BACKEND_SOCKET_TIMEOUT', message: `No ack within ${this.o.timeoutMs} ms.` });
      }
      return null;
    }
    metrics.webhookAttemptDuration.observe({ result: 'socket_acked' }, (this.o.now() - started) / 1000);
    try {
      if (outcome.reply.messages?.length) await this.o.onReply(job, outcome.reply);
    } catch (err) {
      log.error({ err, webhookId: job.id }, 'appending the reply of a backend socket ack failed; the delivery will be retried');
      await this.fail(job, { code: 'INTERNAL', message: 'The reply could not be appended.' });
      return null;
    }
    this.uncounted.delete(job.id);
    if (!(await this.o.engine.completeWebhook(job.id, job.lease))) {
      log.warn({ webhookId: job.id }, 'event acked after its lease ran out; it may be delivered again');
    }
    metrics.webhookDeliveries.inc({ result: 'socket_acked' });
    metrics.webhookLatency.observe((this.o.now() - job.enqueuedAt) / 1000);
    return null;
  }

  /** The job with its uncounted attempts taken off, for the retry schedule. */
  private counted(job: ClaimedJob): ClaimedJob {
    const free = this.uncounted.get(job.id) ?? 0;
    // `event` named: an engine's job may read it through a getter, which a spread leaves behind.
    return free ? { ...job, event: job.event, attempts: Math.max(1, job.attempts - free) } : job;
  }

  private async retryUncounted(job: ClaimedJob, delayMs: number, error: JobError): Promise<void> {
    this.uncounted.delete(job.id);
    this.uncounted.set(job.id, (this.uncounted.get(job.id) ?? 0) + 1);
    if (this.uncounted.size > MAX_REMEMBERED_JOBS) this.uncounted.delete(this.uncounted.keys().next().value!);
    await this.o.engine.retryWebhook(job.id, job.lease, delayMs, error);
  }

  /** A failure that counts: retried on the schedule, dead-lettered when it runs out. */
  private async fail(job: ClaimedJob, error: JobError): Promise<void> {
    const { engine, metrics, log } = this.o;
    const attempts = this.counted(job).attempts;
    const step = this.o.retryScheduleMs[attempts - 1];
    if (step === undefined) {
      this.uncounted.delete(job.id);
      if (!(await engine.deadLetter(job.id, job.lease, error))) return;
      metrics.webhookDeadLetters.inc();
      log.error({ webhookId: job.id, type: job.event.type, attempts, code: error.code }, 'event dead-lettered');
      return;
    }
    await engine.retryWebhook(job.id, job.lease, jitter(step, this.o.random), error);
    metrics.webhookRetries.inc();
    log.warn({ webhookId: job.id, type: job.event.type, attempts, code: error.code }, 'backend socket did not ack the event; will retry');
  }
}

/** One connected backend socket: events out with their acks, sends and posts in with their answers. */
export class BackendLink {
  readonly id = newId('bs_');
  /** Events awaiting their ack, in the order they were sent: their deadlines too, as every event has the same timeout. */
  private readonly pending = new Map<string, Pending>();
  /** One timer for every deadline: set for the earliest one while any event awaits its ack. */
  private timer: NodeJS.Timeout | undefined;
  /** The tail of each conversation's writes, so a socket's writes to one conversation keep their order. */
  private readonly tails = new Map<string, Promise<void>>();
  private invalid = 0;
  private open = true;
  /** The socket's stream while it is corked for this turn of the event loop. */
  private corked: Corkable | undefined;

  constructor(
    readonly site: SiteConfig,
    private readonly ws: WebSocket,
    private readonly o: BackendSocketsOptions,
  ) {
    ws.on('message', (data) => this.onFrame(data));
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Send a frame. Frames sent in one turn of the event loop leave in one write (a burst of events, their answers). */
  send(frame: BackendServerFrame): void {
    if (!this.open) return;
    this.gather();
    this.ws.send(JSON.stringify(frame));
    if (this.corked && this.ws.bufferedAmount >= BATCH_BYTES) this.flush();
  }

  /**
   * Cork the socket's stream until the end of this phase of the event loop: the events of every
   * visitor frame read in one poll (each its own callback) leave in one write, right after it.
   */
  private gather(): void {
    if (this.corked) return;
    const stream = (this.ws as { _socket?: Corkable })._socket;
    if (!stream) return;
    stream.cork();
    this.corked = stream;
    setImmediate(this.flush);
  }

  /** Write what was gathered in this turn. */
  private readonly flush = (): void => {
    const stream = this.corked;
    this.corked = undefined;
    stream?.uncork();
  };

  /** Close with a close code; events awaiting an ack settle as `closed`. */
  close(code: number, reason: string): void {
    if (!this.open) return;
    this.flush();
    this.ws.close(code, reason);
    this.closed();
  }

  /** The socket is gone: every event awaiting its ack is settled as `closed`. */
  closed(): void {
    this.open = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.resolve({ acked: false, why: 'closed' });
  }

  /** Send an event and wait for its ack, at most `timeoutMs`. */
  deliver(event: WebhookEvent, timeoutMs: number): Promise<Outcome> {
    if (!this.open) return Promise.resolve({ acked: false, why: 'closed' });
    return new Promise((resolve) => {
      // The same event again (a redelivery): the earlier wait ends, and this one goes last.
      this.settle(event.id, { acked: false, why: 'closed' });
      this.pending.set(event.id, { resolve, until: performance.now() + timeoutMs });
      this.timer ??= setTimeout(this.expire, timeoutMs);
      this.send({ t: 'event', event });
    });
  }

  /** End the wait for event `id`, if any. */
  private settle(id: string, outcome: Outcome): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.resolve(outcome);
  }

  /** The earliest deadlines passed: those events time out; the timer is set again for the next. */
  private readonly expire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    for (const [id, p] of this.pending) {
      if (p.until > now) {
        this.timer = setTimeout(this.expire, p.until - now);
        return;
      }
      this.settle(id, { acked: false, why: 'timeout' });
    }
  };

  private onFrame(data: unknown): void {
    const decoded = decodeBackendFrame(data, MAX_BACKEND_FRAME_BYTES);
    if (!decoded.ok) {
      this.o.metrics.clientErrors.inc({ kind: 'backend-socket' });
      this.send({ t: 'error', code: decoded.code, message: decoded.message, ...withId(frameIdOf(data)) });
      if (decoded.code === 'TOO_LARGE') this.close(CLOSE.FRAME_TOO_LARGE, 'TOO_LARGE');
      else if (++this.invalid >= this.o.maxInvalidFrames) this.close(CLOSE.PROTOCOL_ERROR, 'BAD_FRAME');
      return;
    }
    const frame = decoded.frame;
    if (frame.t === 'ack') {
      const { t: _t, id, ...reply } = frame;
      this.settle(id, { acked: true, reply });
      return;
    }
    this.write(frame);
  }

  /**
   * A `send`, `post` or `stream` step, after the earlier writes of its conversation on this socket
   * (so the steps of one answer apply in arrival order); answered with an ack or an error (a
   * stream's delta with an error only).
   */
  private write(frame: Exclude<BackendClientFrame, { t: 'ack' }>): void {
    const { conversationId } = frame;
    const run = async (): Promise<void> => {
      try {
        const conversation = await conversationOfSite(this.o.engine, this.site, conversationId);
        if (frame.t === 'send') {
          const { t: _t, conversationId: _c, ...message } = frame;
          const result = await postMessage(this.o.service, this.site, conversation.id, message);
          this.send({ t: 'ack', id: frame.id, seq: result.message.seq, duplicate: result.duplicate });
        } else if (frame.t === 'stream') {
          const { t: _t, id, conversationId: _c, ...step } = frame;
          const result = await this.o.streams.step(this.site, conversation.id, id, step);
          // A delta is answered only when refused (the catch below).
          if (step.op !== 'delta') this.send({ t: 'ack', id, ...(result.message ? { seq: result.message.seq } : {}), duplicate: result.duplicate });
        } else {
          const result = await postEvent(this.o.service, this.site, conversation.id, { id: frame.id, event: frame.event });
          this.send({ t: 'ack', id: frame.id, ...(result.seq === undefined ? {} : { seq: result.seq }), duplicate: result.duplicate });
        }
      } catch (err) {
        const { code, message } = this.classify(err);
        this.send({ t: 'error', code, message, id: frame.id });
      }
    };
    const tail = (this.tails.get(conversationId) ?? Promise.resolve()).then(run);
    this.tails.set(conversationId, tail);
    void tail.then(() => {
      if (this.tails.get(conversationId) === tail) this.tails.delete(conversationId);
    });
  }

  private classify(err: unknown): ErrorInfo {
    if (err instanceof CodedError) return errorInfo(err.code, err.message);
    if (isEngineUnavailable(err)) return errorInfo('NOT_READY', err.message);
    const code = (err as { code?: unknown }).code;
    if (isErrorCode(code)) return errorInfo(code);
    this.o.log.error({ err }, 'a backend socket write failed');
    return errorInfo('INTERNAL');
  }
}

const withId = (id: string | undefined) => (id === undefined ? {} : { id });

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
