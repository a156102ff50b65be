import type { Server } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { LIMITS, isErrorCode, type ErrorCode } from '@parley/protocol';
import { parseConfig, type LimitsConfig, type RelayConfig, type RelayConfigInput, type WebhooksConfig } from './config.js';
import type { SiteRuntime } from './connection.js';
import { AuthThrottle } from './auth-throttle.js';
import { BackendSockets } from './backend-socket.js';
import { ConversationService } from './conversation-service.js';
import { createEngine } from './engine/create.js';
import { isEngineUnavailable, type Engine } from './engine/types.js';
import { errorBody, CodedError, statusOf } from './errors.js';
import { Hub } from './hub.js';
import { SECURITY_HEADERS, capConnectionsPerIp, httpServerOptions, rawResponse } from './http-limits.js';
import { backendApiPlugin } from './plugins/backend-api.js';
import { backendSocketPlugin } from './plugins/backend-socket.js';
import { healthPlugin } from './plugins/health.js';
import { createMetrics, metricsPlugin, type RelayMetrics } from './plugins/metrics.js';
import { siteConfigPlugin } from './plugins/site-config.js';
import { loadWidgetAssets, widgetAssetsPlugin } from './plugins/widget-assets.js';
import { widgetSocketPlugin } from './plugins/widget-socket.js';
import { newVisitorRate } from './protections.js';
import { Streams } from './streams.js';
import { VisitorTokens } from './visitor-token.js';
import { WebhookWorker, type WebhookWorkerOptions } from './webhook-worker.js';

/** Options for `buildApp`; everything here is for embedding and tests, the config file covers operators. */
export interface BuildAppOptions {
  /** The engine to use. Default: the config's `engine` (closed with the app). An injected engine is started but not closed. */
  engine?: Engine;
  /** Clock in ms (timestamps, timeouts, rate limits). Default `Date.now`. */
  now?: () => number;
  /** Randomness in [0, 1) for retry jitter. Default `Math.random`. */
  random?: () => number;
  /** Fastify logger option, or a pino logger. Default: pino at the config's `logLevel`, with secrets redacted. */
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger;
  /** Overrides of the config's `limits` (timers, caps, rate limits). */
  limits?: Partial<LimitsConfig>;
  /** Overrides of the config's `webhooks`, plus the queue poll interval (default 1000 ms). */
  webhooks?: Partial<WebhooksConfig> & { pollMs?: number };
  /** Grace given to a closing socket before it is cut. Default 1000 ms. */
  closeGraceMs?: number;
  /** Backend socket timers: the wait before an `only`-mode event with no socket is looked at again (default 1000 ms), and the ping interval (default 30 s). */
  backendSocket?: { waitMs?: number; pingMs?: number };
  /** Also export Node process metrics (the CLI turns this on). Default false. */
  defaultMetrics?: boolean;
  /** How often this instance looks for stalled streamed answers. Default: a quarter of `limits.streamStallMs`, at most 5 s. */
  streamSweepMs?: number;
}

/** Log paths that may hold secrets; pino replaces them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'token',
  '*.token',
  'tokenSecret',
  '*.apiSecret',
  '*.webhookSecret',
  '*.identitySecret',
  '*.tokenSecret',
];

declare module 'fastify' {
  interface FastifyInstance {
    /** The relay's engine, metrics and resolved config. */
    parley: { engine: Engine; metrics: RelayMetrics; config: RelayConfig; metricsServer?: Server };
  }
}

/**
 * Build the relay: a Fastify instance with the widget socket, the backend REST API,
 * `/metrics`, `/healthz`, `/readyz` and, when the config names `assets`, the widget's
 * `/parley/loader.js` and `/parley/parley.iife.js` (read here, once). It does not listen;
 * call `app.listen()`. Throws `ConfigError` when the config is invalid or an asset is missing.
 */
export function buildApp(input: RelayConfig | RelayConfigInput, options: BuildAppOptions = {}): FastifyInstance {
  const config = parseConfig(input);
  const assets = config.assets ? loadWidgetAssets(config.assets) : undefined;
  const limits: LimitsConfig = { ...config.limits, ...options.limits };
  const webhooks = { ...config.webhooks, ...options.webhooks };
  const now = options.now ?? Date.now;
  const tokenTtlMs = config.tokenTtlDays * 86_400_000;
  const random = options.random ?? Math.random;
  const ownEngine = !options.engine;
  const engine = options.engine ?? createEngine(config.engine, now);
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? false });
  const closeGraceMs = options.closeGraceMs ?? 1000;

  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  let logger = options.logger ?? { level: config.logLevel };
  const isPino = typeof logger === 'object' && logger !== null && 'child' in logger && typeof logger.child === 'function';
  // Logger options always get the redaction paths.
  if (!isPino && typeof logger === 'object' && logger !== null) logger = { ...logger, redact };
  else if (logger === true) logger = { level: config.logLevel, redact };
  const app = Fastify({
    ...(isPino ? { loggerInstance: logger as FastifyBaseLogger } : { logger: logger as FastifyServerOptions['logger'] }),
    bodyLimit: LIMITS.maxBodyBytes,
    trustProxy: config.trustProxy,
    // Slow clients are cut by Node's own timers; every request is not an info line (operators get
    // start, stop, dead letters and engine faults).
    http: httpServerOptions(limits),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    logController: new LogController({ disableRequestLogging: true }),
    // A request Node could not parse, or one too slow: counted, logged at debug without a stack,
    // and answered with the relay's error body.
    clientErrorHandler: (err, socket) => {
      metrics.clientErrors.inc({ kind: 'http' });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || socket.destroyed) return;
      app.log.debug({ code }, 'malformed or slow HTTP request refused');
      const refusal: ErrorCode = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : code === 'HPE_HEADER_OVERFLOW' ? 'TOO_LARGE' : 'BAD_REQUEST';
      if (socket.writable) socket.write(rawResponse(statusOf(refusal), JSON.stringify(errorBody(refusal))));
      socket.destroy();
    },
    // Fastify's own refusals (a path parameter over 100 characters, a malformed URL) get the
    // relay's error body, which never echoes the input.
    frameworkErrors: (err, _req, res) => {
      const { code, message } = classify(err);
      void (res as FastifyReply).code(statusOf(code)).headers(SECURITY_HEADERS).send(errorBody(code, message));
    },
  });
  if (limits.maxHttpConnectionsPerIp > 0 && !config.trustProxy) {
    capConnectionsPerIp(app.server, limits.maxHttpConnectionsPerIp, () => metrics.httpConnectionsRefused.inc());
  }

  const sites = new Map(config.sites.map((s) => [s.siteKey, s]));
  const runtimes = new Map<string, SiteRuntime>(
    config.sites.map((s) => [s.siteKey, { config: s, anyOrigin: s.allowedOrigins.includes('*'), origins: new Set(s.allowedOrigins) }]),
  );
  const service = new ConversationService(engine, limits.contextUpdateIntervalMs);
  const appendReply: WebhookWorkerOptions['onReply'] = async (job, reply) => {
    const site = sites.get(job.siteKey)!;
    const messages = reply.messages ?? [];
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      // Ids derive from the webhook id, so a redelivered event's replies are appended once.
      await service.appendBackendMessage(site, job.conversationId, { ...m, id: m.id ?? `${job.id}-${i}` });
    }
  };
  // A backend socket that connects kicks the worker; events left waiting in `only` mode are due again within `waitMs`.
  // What both ways of delivering an event share: the queue, the clock, the retry schedule, the reply.
  const delivery = { engine, metrics, log: app.log, now, random, timeoutMs: webhooks.timeoutMs, retryScheduleMs: webhooks.retryScheduleMs, onReply: appendReply };
  const streams = new Streams({ engine, service, metrics, log: app.log, sites, stallMs: limits.streamStallMs });
  const streamSweepMs = options.streamSweepMs ?? Math.min(5000, Math.max(10, Math.floor(limits.streamStallMs / 4)));
  let streamSweeper: NodeJS.Timeout | undefined;
  const backendSockets = new BackendSockets({
    ...delivery,
    service,
    streams,
    maxInvalidFrames: limits.maxInvalidFrames,
    ...(options.backendSocket?.waitMs !== undefined ? { waitMs: options.backendSocket.waitMs } : {}),
    onConnect: () => worker.kick(),
  });
  const worker = new WebhookWorker({
    ...delivery,
    sites,
    concurrency: webhooks.concurrency,
    ...(webhooks.pollMs !== undefined ? { pollMs: webhooks.pollMs } : {}),
    backendSockets,
  });
  // The worker appends inline replies through the service; the service tells the worker when it queued events.
  service.onQueued(() => worker.kick());
  const hub = new Hub(engine);
  let closing = false;

  app.decorate('parley', { engine, metrics, config });

  app.setErrorHandler((err, req, reply) => {
    const { code, message } = classify(err);
    if (code === 'INTERNAL') req.log.error({ err }, 'request failed');
    return reply.code(statusOf(code)).send(errorBody(code, message));
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody('NOT_FOUND')));
  // Every answer: never sniffed as another type, never framed, no referrer, nothing loaded from it.
  app.addHook('onSend', async (_req, reply) => {
    void reply.headers(SECURITY_HEADERS);
  });

  app.addHook('onReady', async () => {
    await engine.start();
    worker.start();
    streamSweeper = setInterval(() => {
      streams.sweep().catch((err: unknown) => {
        if (isEngineUnavailable(err)) return; // the next sweep tries again
        app.log.error({ err }, 'closing stalled streamed answers failed');
      });
    }, streamSweepMs);
    streamSweeper.unref();
  });
  app.addHook('preClose', async () => {
    closing = true;
    clearInterval(streamSweeper);
  });
  // Fastify stops accepting first; the widget socket plugin's preClose closes every socket with
  // GOING_AWAY; then deliveries in flight get `drainMs` to finish, and the engine closes last.
  app.addHook('onClose', async () => {
    await worker.stop(webhooks.drainMs);
    if (ownEngine) await engine.close();
  });

  // Each site's tokens: its own token secret when it has one, else the relay's.
  const tokens = new Map(config.sites.map((s) => [s.siteKey, new VisitorTokens({ secrets: s.tokenSecret ?? config.tokenSecret, ttlMs: tokenTtlMs, now })]));
  const authThrottle = new AuthThrottle(engine, limits.authFailuresPerIp, limits.authBlockMs, now);
  void app.register(healthPlugin, { engine, isClosing: () => closing });
  void app.register(metricsPlugin, { metrics, access: config.metrics, onListener: (server) => (app.parley.metricsServer = server) });
  void app.register(widgetSocketPlugin, {
    ctx: { sites: runtimes, limits, tokens: (siteKey) => tokens.get(siteKey)!, authThrottle, engine, service, hub, newVisitorRate: newVisitorRate(limits), metrics, log: app.log, now, closeGraceMs },
  });
  if (assets) void app.register(widgetAssetsPlugin, { assets });
  void app.register(siteConfigPlugin, { sites: config.sites, engine });
  void app.register(backendSocketPlugin, { sites: config.sites, sockets: backendSockets, authThrottle, closeGraceMs, ...(options.backendSocket?.pingMs !== undefined ? { pingMs: options.backendSocket.pingMs } : {}) });
  void app.register(backendApiPlugin, { prefix: '/v1', sites: config.sites, engine, service, streams, metrics, now, rateLimit: limits.restRateLimit, authThrottle, tokenTtlMs });
  return app;
}

/** The registry code for any error a route or Fastify itself raised. */
function classify(err: unknown): { code: ErrorCode; message?: string } {
  if (err instanceof CodedError) return { code: err.code, message: err.message };
  if (isEngineUnavailable(err)) return { code: 'NOT_READY', message: err.message };
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code && isErrorCode(e.code)) return { code: e.code };
  switch (e.statusCode) {
    case 413:
      return { code: 'TOO_LARGE', message: `Request bodies are limited to ${LIMITS.maxBodyBytes} bytes.` };
    case 400:
      if (err instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { code: 'BAD_JSON' };
      return { code: 'BAD_REQUEST' };
    case 415:
      return { code: 'BAD_REQUEST', message: 'Send JSON (content-type: application/json).' };
    case 404:
    case 414:
      // A path parameter too long to be any id names nothing.
      return { code: 'NOT_FOUND' };
    case 429:
      return { code: 'RATE_LIMITED' };
    default:
      return { code: 'INTERNAL' };
  }
}
