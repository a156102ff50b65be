import type { Server } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { LIMITS, isErrorCode, type ErrorCode } from '@parley/protocol';
import { parseConfig, type LimitsConfig, type RelayConfig, type RelayConfigInput, type WebhooksConfig } from './config.js';
import type { SiteRuntime } from './connection.js';
import { isEngineUnavailable, type Engine } from './engine/types.js';
import { errorBody, CodedError, statusOf } from './errors.js';
import { SECURITY_HEADERS, capConnectionsPerIp, httpServerOptions, rawResponse } from './http-limits.js';
import { backendApiPlugin } from './plugins/backend-api.js';
import { backendSocketPlugin } from './plugins/backend-socket.js';
import { healthPlugin } from './plugins/health.js';
import { createServices, lifecyclePlugin } from './plugins/lifecycle.js';
import { createMetrics, metricsPlugin, type RelayMetrics } from './plugins/metrics.js';
import { siteConfigPlugin } from './plugins/site-config.js';
import { loadWidgetAssets, widgetAssetsPlugin } from './plugins/widget-assets.js';
import { widgetSocketPlugin } from './plugins/widget-socket.js';
import { newVisitorRate } from './protections.js';
import { VisitorTokens } from './visitor-token.js';

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
  const now = options.now ?? Date.now;
  const tokenTtlMs = config.tokenTtlDays * 86_400_000;
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

  // The engine and the services on it, each built from the ones before it; started and stopped by the lifecycle plugin.
  const services = createServices({
    config,
    limits,
    webhooks: { ...config.webhooks, ...options.webhooks },
    engine: options.engine,
    now,
    random: options.random ?? Math.random,
    metrics,
    log: app.log,
    backendSocketWaitMs: options.backendSocket?.waitMs,
    streamSweepMs: options.streamSweepMs,
  });
  const { engine, service, hub, streams, backendSockets, activity, uploads, authThrottle } = services;
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

  // First, so the services start before the other plugins' hooks run and stop after theirs (the order is in lifecycle.ts).
  void app.register(lifecyclePlugin, { services });

  // Each site's tokens: its own token secret when it has one, else the relay's.
  const tokens = new Map(config.sites.map((s) => [s.siteKey, new VisitorTokens({ secrets: s.tokenSecret ?? config.tokenSecret, ttlMs: tokenTtlMs, now })]));
  const runtimes = new Map<string, SiteRuntime>(
    config.sites.map((s) => [s.siteKey, { config: s, anyOrigin: s.allowedOrigins.includes('*'), origins: new Set(s.allowedOrigins) }]),
  );
  void app.register(healthPlugin, { engine, isClosing: () => services.closing });
  void app.register(metricsPlugin, { metrics, access: config.metrics, onListener: (server) => (app.parley.metricsServer = server) });
  void app.register(widgetSocketPlugin, {
    ctx: { sites: runtimes, limits, tokens: (siteKey) => tokens.get(siteKey)!, authThrottle, engine, service, hub, newVisitorRate: newVisitorRate(limits), metrics, log: app.log, now, closeGraceMs, activity, uploads },
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
