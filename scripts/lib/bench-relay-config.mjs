// The relay as the benchmarks run it: logs silent, listening on 127.0.0.1, and the protections
// that would throttle a load generator on one address raised. Shared by `npm run bench` and
// `npm run bench:scale`.

/** The limits a load generator on 127.0.0.1 needs raised. */
const BENCH_LIMITS = {
  // Every bench socket comes from 127.0.0.1, and each greets as a new visitor.
  maxConnectionsPerIp: 1_000_000,
  newVisitorsPerIpPerMinute: 1_000_000,
  // Thousands of sockets upgrade at once from that one address.
  maxHttpConnectionsPerIp: 0,
  // A load generator sends far faster than a visitor.
  rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
  restRateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
  // Idle sockets are held for the memory figure without pings.
  idleTimeoutMs: 30 * 60_000,
};

/**
 * A relay config for the benchmarks with `engine` and `sites`. `LimitsConfig` is the built relay's
 * limits schema: only the limits that build knows are set (its config is strict).
 */
export function benchRelayConfig({ engine, sites, LimitsConfig }) {
  return {
    tokenSecret: 'bench-token-secret-0123456789abcdef0123',
    engine,
    logLevel: 'silent',
    host: '127.0.0.1',
    port: 0,
    limits: Object.fromEntries(Object.entries(BENCH_LIMITS).filter(([key]) => !LimitsConfig?.shape || key in LimitsConfig.shape)),
    // The sinks always answer 2xx; a long schedule keeps a hiccup from turning into a retry storm.
    webhooks: { retryScheduleMs: [60_000] },
    sites,
  };
}
