// The relay config of the crash and chaos runs: one site, limits generous enough for hundreds of
// widgets on one address, and webhook retries fast enough to matter within a run but too many to
// dead-letter during one.

/**
 * A relay config. `widgets`: how many widgets will connect (all from 127.0.0.1);
 * `retrySpanMs`: how long webhook retries go on (1 s apart after the first few) before a job
 * would dead-letter.
 */
export function relayConfig({ comment, host, port, tokenSecret, engine, widgets, retrySpanMs = 200_000, site }) {
  const retryScheduleMs = [100, 200, 400, 800, ...Array(Math.ceil(retrySpanMs / 1000)).fill(1000)];
  return {
    $comment: comment,
    host,
    port,
    tokenSecret,
    logLevel: 'warn',
    engine,
    limits: {
      // Every widget connects from 127.0.0.1, and a reconnect flushes a whole outbox at once.
      maxConnectionsPerIp: Math.max(1000, widgets * 4),
      maxHttpConnectionsPerIp: 0,
      newVisitorsPerIpPerMinute: Math.max(10_000, widgets * 4),
      rateLimit: { perSecond: 1000, burst: 1000 },
      restRateLimit: { perSecond: 100_000, burst: 100_000 },
    },
    webhooks: { timeoutMs: 3000, retryScheduleMs },
    sites: [site],
  };
}
