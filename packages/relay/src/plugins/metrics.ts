import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { errorBody, CodedError } from '../errors.js';

/** Plain counters bumped on the hot path; copied into Prometheus metrics only when scraped. */
interface HotCounters {
  framesIn: number;
  framesOut: number;
  connections: number;
}

/** Every metric the relay exports, on its own registry (never the global one). */
export interface RelayMetrics {
  registry: Registry;
  hot: HotCounters;
  webhookDeliveries: Counter<'result'>;
  webhookRetries: Counter;
  webhookDeadLetters: Counter;
  webhookLatency: Histogram;
  webhookAttemptDuration: Histogram<'result'>;
  /** Events per batched webhook request (sites with `webhookBatch` above 1). */
  webhookBatchEvents: Histogram;
  socketCloses: Counter<'code'>;
  restRequests: Counter<'route' | 'status'>;
  /** Plain HTTP connections refused by the per-address cap. */
  httpConnectionsRefused: Counter;
  /** Protocol errors caused by clients (bad frames, bad HTTP), by kind; logged at debug only. */
  clientErrors: Counter<'kind'>;
  /** Streamed answers by what became of them: started, finished, aborted, stalled. */
  streams: Counter<'result'>;
}

/** Build the relay's metrics on a fresh registry. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): RelayMetrics {
  const registry = new Registry();
  const hot: HotCounters = { framesIn: 0, framesOut: 0, connections: 0 };
  new Gauge({
    name: 'parley_connections',
    help: 'Open widget sockets.',
    registers: [registry],
    collect() {
      this.set(hot.connections);
    },
  });
  new Counter({
    name: 'parley_frames_in_total',
    help: 'Frames received from widgets.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(hot.framesIn);
    },
  });
  new Counter({
    name: 'parley_frames_out_total',
    help: 'Frames sent to widgets.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(hot.framesOut);
    },
  });
  const metrics: RelayMetrics = {
    registry,
    hot,
    httpConnectionsRefused: new Counter({
      name: 'parley_http_connections_refused_total',
      help: 'Plain HTTP connections refused because one address held too many.',
      registers: [registry],
    }),
    clientErrors: new Counter({
      name: 'parley_client_errors_total',
      help: 'Protocol errors caused by clients, by kind (http, websocket).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'parley_webhook_deliveries_total',
      help: 'Webhook delivery attempts by result: delivered, http_error, timeout, network_error.',
      labelNames: ['result'],
      registers: [registry],
    }),
    webhookRetries: new Counter({ name: 'parley_webhook_retries_total', help: 'Webhook deliveries scheduled for a retry.', registers: [registry] }),
    webhookDeadLetters: new Counter({
      name: 'parley_webhook_dead_letters_total',
      help: 'Webhook events moved to the dead-letter list after the retry schedule ran out.',
      registers: [registry],
    }),
    webhookLatency: new Histogram({
      name: 'parley_webhook_delivery_latency_seconds',
      help: 'Time from enqueueing a webhook event to its successful delivery.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600, 3600, 86400],
      registers: [registry],
    }),
    webhookBatchEvents: new Histogram({
      name: 'parley_webhook_batch_events',
      help: 'Events in each batched webhook request (an attempt of a site with webhookBatch above 1 that carried several).',
      buckets: [2, 5, 10, 20, 50, 100],
      registers: [registry],
    }),
    webhookAttemptDuration: new Histogram({
      name: 'parley_webhook_attempt_duration_seconds',
      help: 'Duration of one webhook HTTP attempt, by result.',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    socketCloses: new Counter({
      name: 'parley_socket_closes_total',
      help: 'Widget sockets closed by the relay, by close code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    streams: new Counter({
      name: 'parley_streams_total',
      help: 'Streamed answers by result: started, finished, aborted (by the backend), stalled (closed by the relay).',
      labelNames: ['result'],
      registers: [registry],
    }),
    restRequests: new Counter({
      name: 'parley_rest_requests_total',
      help: 'Backend REST API requests by route and status.',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
  };
  for (const result of ['delivered', 'http_error', 'timeout', 'network_error']) metrics.webhookDeliveries.inc({ result }, 0);
  for (const result of ['started', 'finished', 'aborted', 'stalled']) metrics.streams.inc({ result }, 0);
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  return metrics;
}

export interface MetricsPluginOptions {
  metrics: RelayMetrics;
  /** Where and to whom `/metrics` is served (the config's `metrics`). */
  access: MetricsAccess;
  /** Given the separate listener, when `access.port` asks for one. */
  onListener?: (server: Server) => void;
}

/** The config's `metrics` section. */
interface MetricsAccess {
  /** A bearer token that unlocks `/metrics` on the relay's port for any address. */
  token?: string | undefined;
  /** Serve `/metrics` on its own listener at this port instead of the relay's port. */
  port?: number | undefined;
  /** Address of that listener. Default 127.0.0.1. */
  host?: string | undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/**
 * `GET /metrics`, Prometheus text format; process, heap and queue figures are for operators only.
 * With `port`, on a listener of its own (started when the relay listens, closed with it) and not on
 * the relay's port. Otherwise on the relay's port, to a bearer `token` when one is set and to
 * loopback addresses (`request.ip`, so behind a trusted proxy the client's address) without one;
 * anyone else gets the 404 of an unknown route.
 */
export async function metricsPlugin(app: FastifyInstance, opts: MetricsPluginOptions): Promise<void> {
  const { registry } = opts.metrics;
  const { token, port, host } = opts.access;
  if (port !== undefined) {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(JSON.stringify(errorBody('NOT_FOUND')));
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    app.addHook('onListen', async () => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host ?? '127.0.0.1', () => resolve());
      });
      app.log.info({ port: (server.address() as AddressInfo).port, host: host ?? '127.0.0.1' }, 'metrics listening');
    });
    app.addHook('onClose', async () => {
      if (!server.listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    opts.onListener?.(server);
    return;
  }
  const expected = token ? digest(token) : undefined;
  app.get('/metrics', async (req, reply) => {
    const header = req.headers.authorization;
    const given = typeof header === 'string' && /^Bearer \S+$/.test(header) ? digest(header.slice(7)) : undefined;
    const allowed = expected ? given !== undefined && timingSafeEqual(given, expected) : LOOPBACK.test(req.ip);
    if (!allowed) throw new CodedError('NOT_FOUND');
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
