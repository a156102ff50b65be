import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { LIMITS, webhookSecretBytes } from '@parley/protocol';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * The default webhook retry schedule: the wait before each retry, in ms. About 5 s,
 * 30 s, 2 min, 10 min, 30 min, 1 h, then hourly until the retries span 24 h.
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = (() => {
  const steps = [5_000, 30_000, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR];
  let total = steps.reduce((a, b) => a + b, 0);
  while (total + HOUR <= 24 * HOUR) {
    steps.push(HOUR);
    total += HOUR;
  }
  return steps;
})();

const origin = z.union([
  z.literal('*'),
  z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin like https://shop.example (scheme and host, no path)'),
]);

const button = z.object({ label: z.string().min(1).max(LIMITS.maxLabelLength), value: z.string().min(1).max(LIMITS.maxValueLength) }).strict();

const webhookSecret = z
  .string()
  .startsWith('whsec_', 'must start with whsec_')
  .refine((s) => {
    try {
      return webhookSecretBytes(s).byteLength >= 16;
    } catch {
      return false;
    }
  }, 'must be whsec_ followed by base64 of at least 16 bytes');

/** One site (one shop) served by the relay. */
export const SiteConfig = z
  .object({
    /** A note for humans; ignored. */
    $comment: z.string().optional(),
    /** Public key the widget sends in `hello`. */
    siteKey: z.string().min(1).max(LIMITS.maxShortLength).regex(/^[\w-]+$/, 'letters, digits, _ and - only'),
    /** Display name sent in `welcome`. */
    name: z.string().min(1).max(LIMITS.maxShortLength),
    /** Exact page origins allowed to open a widget socket; `"*"` allows any (development only). */
    allowedOrigins: z.array(origin).min(1),
    /** Where webhooks are POSTed. */
    webhookUrl: z.url({ protocol: /^https?$/ }),
    /** Standard Webhooks signing secret, `whsec_` + base64. */
    webhookSecret,
    /** Bearer secret of the backend REST API for this site. */
    apiSecret: z.string().min(16, 'must be at least 16 characters'),
    /** Secret for identity signatures (`hex(HMAC-SHA256(identitySecret, userId))`). */
    identitySecret: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Shown at once on open, with no backend round trip. */
    greeting: z
      .object({
        text: z.string().min(1).max(LIMITS.maxTextLength),
        quickReplies: z.array(button).max(LIMITS.maxQuickReplies).default([]),
      })
      .strict()
      .default({ text: 'Hi! How can we help?', quickReplies: [] }),
    /** How much of each conversation the relay keeps. */
    retention: z
      .object({
        maxMessages: z.number().int().min(1).max(1_000_000).default(1000),
        maxAgeHours: z.number().positive().max(24 * 365).default(24 * 7),
      })
      .strict()
      .default({ maxMessages: 1000, maxAgeHours: 24 * 7 }),
    /** Whether agents are available when the relay starts (the backend changes it with `POST /v1/availability`). */
    online: z.boolean().default(true),
  })
  .strict();
export type SiteConfig = z.infer<typeof SiteConfig>;

const rate = z.object({ perSecond: z.number().positive(), burst: z.number().int().min(1) }).strict();

/** Protections and timers of the widget socket and REST API. */
export const LimitsConfig = z
  .object({
    /** Largest accepted frame in bytes; at most the protocol's 16 KiB. */
    maxFrameBytes: z.number().int().min(256).max(LIMITS.maxFrameBytes).default(LIMITS.maxFrameBytes),
    /** Open widget sockets per client address. */
    maxConnectionsPerIp: z.number().int().min(1).default(50),
    /** Time a new socket has to send `hello`. */
    helloTimeoutMs: z.number().int().min(1).default(10_000),
    /** A socket that sends nothing (not even a ping) for this long is closed. */
    idleTimeoutMs: z.number().int().min(1).default(75_000),
    /** Token bucket per connection. */
    rateLimit: rate.default({ perSecond: 10, burst: 40 }),
    /** Frames refused for rate limiting before the socket is closed. */
    rateLimitStrikes: z.number().int().min(1).default(20),
    /** Invalid frames tolerated on one socket before it is closed. */
    maxInvalidFrames: z.number().int().min(1).default(10),
    /** Bytes queued on one socket before it is cut off as a slow consumer. */
    maxBufferedBytes: z.number().int().min(1024).default(1024 * 1024),
    /** Token bucket per site for the backend REST API. */
    restRateLimit: rate.default({ perSecond: 100, burst: 200 }),
  })
  .strict();
export type LimitsConfig = z.infer<typeof LimitsConfig>;

/** Webhook delivery. */
export const WebhooksConfig = z
  .object({
    /** Time the backend has to answer one delivery. */
    timeoutMs: z.number().int().min(1).default(10_000),
    /** Wait before each retry, in ms; full jitter is applied around each step. */
    retryScheduleMs: z.array(z.number().int().min(0)).default([...DEFAULT_RETRY_SCHEDULE_MS]),
    /** Deliveries in flight at once. */
    concurrency: z.number().int().min(1).max(1000).default(16),
  })
  .strict();
export type WebhooksConfig = z.infer<typeof WebhooksConfig>;

/** The whole relay configuration. */
export const RelayConfig = z
  .object({
    /** A note for humans; ignored. */
    $comment: z.string().optional(),
    /** Address to listen on (env `HOST` wins). */
    host: z.string().min(1).default('0.0.0.0'),
    /** Port to listen on (env `PORT` wins). */
    port: z.number().int().min(0).max(65535).default(8787),
    /** Secret that signs visitor tokens. Changing it signs every visitor out of their conversation. */
    tokenSecret: z.string().min(32, 'must be at least 32 characters'),
    /** pino log level. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Trust `X-Forwarded-For` from a proxy in front of the relay (needed for per-IP limits behind a load balancer). */
    trustProxy: z.boolean().default(false),
    /** Where state lives. Only `memory` ships today. */
    engine: z.object({ type: z.literal('memory') }).strict().default({ type: 'memory' }),
    limits: LimitsConfig.default(LimitsConfig.parse({})),
    webhooks: WebhooksConfig.default(WebhooksConfig.parse({})),
    /**
     * Directories searched in order for the widget's `loader.js` and `parley.iife.js`, served at
     * `/parley/loader.js` and `/parley/parley.iife.js`. Unset: not served. In a config file,
     * relative paths resolve against the file's directory (env `PARLEY_ASSETS` wins).
     */
    assets: z.array(z.string().min(1)).min(1).optional(),
    sites: z.array(SiteConfig).min(1),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const keys = new Set<string>();
    const secrets = new Set<string>();
    cfg.sites.forEach((site, i) => {
      if (keys.has(site.siteKey)) ctx.addIssue({ code: 'custom', path: ['sites', i, 'siteKey'], message: 'duplicate site key' });
      if (secrets.has(site.apiSecret)) ctx.addIssue({ code: 'custom', path: ['sites', i, 'apiSecret'], message: 'must differ between sites' });
      keys.add(site.siteKey);
      secrets.add(site.apiSecret);
    });
  });
/** A validated configuration, defaults filled in. */
export type RelayConfig = z.infer<typeof RelayConfig>;
/** A configuration as written in the file (defaults may be omitted). */
export type RelayConfigInput = z.input<typeof RelayConfig>;

/** A configuration that failed validation; `key` is the dotted path of the first bad key. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validate a parsed configuration object. Throws `ConfigError` naming the bad key. */
export function parseConfig(input: unknown): RelayConfig {
  const result = RelayConfig.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  let path = issue.path.map(String).join('.');
  // An unknown key is reported on its parent; name the key itself.
  if (issue.code === 'unrecognized_keys' && issue.keys.length) path = [path, issue.keys[0]].filter(Boolean).join('.');
  const key = path || '(root)';
  throw new ConfigError(`Invalid relay config: ${key}: ${issue.message}`, key);
}

/**
 * Load the configuration: the file named by `file` (or env `PARLEY_CONFIG`), then env
 * `PORT`, `HOST` and `PARLEY_ASSETS` (colon-separated directories) on top. Relative `assets`
 * directories resolve against the file's directory, those of `PARLEY_ASSETS` against the
 * working directory. Throws `ConfigError` naming the bad key.
 */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const path = file ?? env.PARLEY_CONFIG;
  if (!path) throw new ConfigError('No config file: pass --config FILE or set PARLEY_CONFIG.', '(file)');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`Cannot read relay config ${path}: ${(err as Error).message}`, '(file)');
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const obj = raw as Record<string, unknown>;
    if (env.PORT !== undefined && env.PORT !== '') {
      if (!/^\d{1,5}$/.test(env.PORT)) throw new ConfigError(`Invalid relay config: PORT: must be a port number`, 'PORT');
      obj.port = Number(env.PORT);
    }
    if (env.HOST) obj.host = env.HOST;
    if (env.PARLEY_ASSETS) obj.assets = env.PARLEY_ASSETS.split(':').filter(Boolean).map((dir) => resolve(dir));
    else if (Array.isArray(obj.assets)) obj.assets = obj.assets.map((dir: unknown) => (typeof dir === 'string' && dir ? resolve(dirname(path), dir) : dir));
  }
  return parseConfig(raw);
}
