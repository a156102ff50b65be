import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { AuthThrottle } from '../auth-throttle.js';
import { BackendSockets } from '../backend-socket.js';
import type { LimitsConfig, RelayConfig, WebhooksConfig } from '../config.js';
import { ConversationService } from '../conversation-service.js';
import { createEngine } from '../engine/create.js';
import { isEngineUnavailable, type Engine } from '../engine/types.js';
import { Hub } from '../hub.js';
import { Streams } from '../streams.js';
import { Uploads } from '../uploads.js';
import { VisitorActivity } from '../visitor-activity.js';
import { WebhookWorker, type WebhookWorkerOptions } from '../webhook-worker.js';
import type { RelayMetrics } from './metrics.js';

interface ServicesOptions {
  config: RelayConfig;
  /** The config's limits with the app's overrides. */
  limits: LimitsConfig;
  /** The config's webhooks with the app's overrides, plus the queue poll interval. */
  webhooks: WebhooksConfig & { pollMs?: number };
  /** An engine the caller owns: started with the app, never closed by it. Default: the config's, closed with the app. */
  engine?: Engine;
  now: () => number;
  random: () => number;
  metrics: RelayMetrics;
  log: FastifyBaseLogger;
  /** In `only` mode with no backend socket, a waiting event is looked at again after this long. */
  backendSocketWaitMs?: number;
  /** How often this instance looks for stalled streamed answers. Default: a quarter of `limits.streamStallMs`, at most 5 s. */
  streamSweepMs?: number;
}

/** The services one relay instance runs, shared by the plugins; `lifecyclePlugin` starts and stops them. */
interface RelayServices {
  engine: Engine;
  /** The engine was created from the config (closed with the app), not injected. */
  ownsEngine: boolean;
  service: ConversationService;
  hub: Hub;
  streams: Streams;
  backendSockets: BackendSockets;
  worker: WebhookWorker;
  activity: VisitorActivity;
  uploads: Uploads;
  authThrottle: AuthThrottle;
  /** Deliveries in flight get this long to finish when the app closes. */
  drainMs: number;
  streamSweepMs: number;
  /** Set once `app.close()` has begun: `/readyz` answers 503. */
  closing: boolean;
}

/**
 * "Events may be due": raised after the conversation service queued events and when a backend
 * socket connects (events left waiting for one in `only` mode are due again within `waitMs`);
 * heard by the webhook worker, which then looks at the queue.
 * The producers know only this signal, never the worker, so the dependencies run one way:
 * worker → backend sockets → service → engine (the worker appends inline replies through the
 * service), and nothing refers to the worker before it exists.
 */
class DueSignal {
  private readonly listeners: Array<(queued: boolean) => void> = [];

  /** Tell every listener whether events were just queued (else: a backend socket connected); bound, so it can be handed over as a callback. */
  readonly raise = (queued = false): void => {
    for (const listener of this.listeners) listener(queued);
  };

  listen(listener: (queued: boolean) => void): void {
    this.listeners.push(listener);
  }
}

/**
 * Build the relay's services, each from the ones before it: the engine (created from the config,
 * or the one injected), then the conversation service, streams, backend sockets, the webhook
 * worker, and what sends through the worker (visitor activity, uploads). Nothing starts here:
 * the engine connects and the timers begin on the app's `onReady` (`lifecyclePlugin`).
 */
export function createServices(o: ServicesOptions): RelayServices {
  const { config, limits, webhooks, now, metrics, log } = o;
  const engine = o.engine ?? createEngine(config.engine, now);
  const sites = new Map(config.sites.map((s) => [s.siteKey, s]));
  const due = new DueSignal();

  const service = new ConversationService(engine, limits.contextUpdateIntervalMs);
  service.onQueued(() => due.raise(true));
  const appendReply: WebhookWorkerOptions['onReply'] = async (job, reply) => {
    const site = sites.get(job.siteKey)!;
    const messages = reply.messages ?? [];
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      // Ids derive from the webhook id, so a redelivered event's replies are appended once.
      await service.appendBackendMessage(site, job.conversationId, { ...m, id: m.id ?? `${job.id}-${i}` });
    }
  };
  // What both ways of delivering an event share: the queue, the clock, the retry schedule, the reply.
  const delivery = { engine, metrics, log, now, random: o.random, timeoutMs: webhooks.timeoutMs, retryScheduleMs: webhooks.retryScheduleMs, onReply: appendReply };
  const streams = new Streams({ engine, service, metrics, log, sites, stallMs: limits.streamStallMs });
  const backendSockets = new BackendSockets({
    ...delivery,
    service,
    streams,
    maxInvalidFrames: limits.maxInvalidFrames,
    ...(o.backendSocketWaitMs !== undefined ? { waitMs: o.backendSocketWaitMs } : {}),
    onConnect: () => due.raise(),
  });
  const worker = new WebhookWorker({
    ...delivery,
    sites,
    concurrency: webhooks.concurrency,
    batchWaitMs: webhooks.batchWaitMs,
    ...(webhooks.pollMs !== undefined ? { pollMs: webhooks.pollMs } : {}),
    backendSockets,
  });
  due.listen((queued) => worker.kick(queued));

  return {
    engine,
    ownsEngine: !o.engine,
    service,
    hub: new Hub(engine),
    streams,
    backendSockets,
    worker,
    activity: new VisitorActivity({ engine, sockets: backendSockets, sendOnce: (site, event) => worker.sendOnce(site, event), now, typingIntervalMs: limits.typingIntervalMs, log }),
    uploads: new Uploads({ engine, sockets: backendSockets, ask: (site, event, timeoutMs) => worker.ask(site, event, timeoutMs), now, log }),
    authThrottle: new AuthThrottle(engine, limits.authFailuresPerIp, limits.authBlockMs, now),
    drainMs: webhooks.drainMs,
    streamSweepMs: o.streamSweepMs ?? Math.min(5000, Math.max(10, Math.floor(limits.streamStallMs / 4))),
    closing: false,
  };
}

/**
 * Starts and stops the relay's background work. Register it before the other plugins: its
 * `onReady` then runs first and its `onClose` last.
 *
 * Start (`onReady`): the engine starts, then the webhook worker, then the sweep that closes
 * stalled streamed answers.
 *
 * Stop (`app.close()`):
 * 1. Fastify refuses new requests.
 * 2. `preClose`, in registration order: this plugin marks the relay closing (`/readyz` answers
 *    503) and ends the stream sweep; the widget socket plugin closes every widget socket with
 *    GOING_AWAY (after `closeGraceMs` the rest are cut); the backend socket plugin does the same
 *    for backend sockets. Then the HTTP server closes.
 * 3. `onClose`, in reverse registration order, so this plugin's comes after the others': the
 *    visitors' typing timers are cleared, the webhook worker stops claiming and gives the
 *    deliveries in flight `drainMs` (the rest are cut and go again after a restart), and the
 *    engine closes last, when the relay created it.
 */
export async function lifecyclePlugin(app: FastifyInstance, opts: { services: RelayServices }): Promise<void> {
  const { services } = opts;
  const { engine, worker, streams } = services;
  let streamSweeper: NodeJS.Timeout | undefined;

  app.addHook('onReady', async () => {
    await engine.start();
    worker.start();
    streamSweeper = setInterval(() => {
      streams.sweep().catch((err: unknown) => {
        if (isEngineUnavailable(err)) return; // the next sweep tries again
        app.log.error({ err }, 'closing stalled streamed answers failed');
      });
    }, services.streamSweepMs);
    streamSweeper.unref();
  });
  app.addHook('preClose', async () => {
    services.closing = true;
    clearInterval(streamSweeper);
  });
  app.addHook('onClose', async () => {
    services.activity.clear();
    services.hub.close();
    await worker.stop(services.drainMs);
    if (services.ownsEngine) await engine.close();
  });
}
