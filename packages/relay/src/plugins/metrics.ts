import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Plain counters bumped on the hot path; copied into Prometheus metrics only when scraped. */
export interface HotCounters {
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
  socketCloses: Counter<'code'>;
  restRequests: Counter<'route' | 'status'>;
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
    restRequests: new Counter({
      name: 'parley_rest_requests_total',
      help: 'Backend REST API requests by route and status.',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
  };
  for (const result of ['delivered', 'http_error', 'timeout', 'network_error']) metrics.webhookDeliveries.inc({ result }, 0);
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  return metrics;
}

/** `GET /metrics`: Prometheus text format. */
export async function metricsPlugin(app: FastifyInstance, opts: { metrics: RelayMetrics }): Promise<void> {
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
}
