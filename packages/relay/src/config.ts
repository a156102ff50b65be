import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { EN_STRINGS, LIMITS, MAX_STRING_LENGTH, MAX_UPLOAD_TYPES, MIME_PATTERN_RE, STRING_KEYS, templateParams, webhookSecretBytes } from '@parley/protocol';
import { siteTheme, siteTriggers } from './proactive-config.js';

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

/**
 * A secret, or a list of 1–5 during a rotation: every one is accepted (a webhook is signed with
 * each), so the old and the new secret both work until the old one is removed.
 */
const oneOrMore = <T extends z.ZodType<string>>(secret: T) => z.union([secret, z.array(secret).min(1).max(5)]);

/** The secrets of a `oneOrMore` setting, as a list. */
export function secretList(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

const button = z.object({ label: z.string().min(1).max(LIMITS.maxLabelLength), value: z.string().min(1).max(LIMITS.maxValueLength) }).strict();

/** Shown at once on open, with no backend round trip. */
const greeting = z
  .object({
    text: z.string().min(1).max(LIMITS.maxTextLength),
    quickReplies: z.array(button).max(LIMITS.maxQuickReplies).default([]),
  })
  .strict();

/** A BCP 47 language tag, as browsers report them. */
const LOCALE_TAG = /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$/;
const TAG_HINT = 'must be a language tag like en, zh-CN or pt-BR';
const localeTag = z.string().regex(LOCALE_TAG, TAG_HINT);

/** Some of the widget's strings, worded the site's way; a template may use only the placeholders of the English one. */
const widgetStrings = z
  .object(
    Object.fromEntries(
      STRING_KEYS.map((k) => {
        const allowed = templateParams(EN_STRINGS[k]);
        const hint = allowed.length ? `may use only the placeholders ${allowed.map((p) => `{${p}}`).join(', ')}` : 'takes no placeholders';
        return [k, z.string().min(1).max(MAX_STRING_LENGTH).refine((t) => templateParams(t).every((p) => allowed.includes(p)), hint)];
      }),
    ),
  )
  .partial()
  .strict();

/** What a site shows visitors of one locale: its greeting, and widget strings over Parley's own. */
const siteLocale = z.object({ greeting: greeting.optional(), strings: widgetStrings.optional() }).strict();

/** A loopback host: `http` is accepted for it alone (development on one machine). */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** An upload host: an https origin, or an http one on a loopback address. */
const uploadHost = z
  .string()
  .regex(/^https?:\/\/[^/\s?#]+$/i, 'must be an origin like https://files.shop.example (scheme and host, no path)')
  .refine((o) => isSecureUploadUrl(o), 'must be https (http only for localhost)')
  .transform((o) => new URL(o).origin);

/** Whether `url` is https, or http on a loopback host. */
export function isSecureUploadUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK_HOST.test(u.hostname));
  } catch {
    return false;
  }
}

/** Attachments: files go straight from the visitor's browser to the merchant's storage, never through the relay. */
const uploads = z
  .object({
    /** Largest file a visitor may attach, in bytes. Default 10 MiB. */
    maxBytes: z.number().int().min(1).max(5 * 1024 ** 3).default(10 * 1024 * 1024),
    /** MIME types a visitor may attach, or patterns of them: `image/*`, `application/pdf`. */
    types: z.array(z.string().regex(MIME_PATTERN_RE, 'must be a MIME type like image/png, or a pattern like image/*')).min(1).max(MAX_UPLOAD_TYPES),
    /** Origins the backend's upload targets and file URLs may be on; anything else is refused. */
    hosts: z.array(uploadHost).min(1).max(20),
    /** Time the backend has to answer `upload.requested`; the visitor is waiting. */
    timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
  })
  .strict();
export type UploadsConfig = z.infer<typeof uploads>;

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
    /** Accept widget sockets that send no `Origin` header (native apps, not browsers). Default false, even with `"*"`. */
    allowNoOrigin: z.boolean().default(false),
    /** Where webhooks are POSTed. */
    webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Standard Webhooks signing secret, `whsec_` + base64. */
    webhookSecret: oneOrMore(webhookSecret).optional(),
    /**
     * At most this many events in one webhook request. 1 (the default) POSTs each event alone.
     * Above 1, events that are due at once (the next event of several conversations; never two of
     * one conversation) go in one signed request, `{type: "batch", id, events}`, which a 2xx
     * settles together: fewer requests under load (an event waits at most `webhooks.batchWaitMs`,
     * and only while deliveries are in flight). See docs/backend-api.md.
     */
    webhookBatch: z.number().int().min(1).max(LIMITS.maxWebhookBatch).default(1),
    /**
     * Signs this site's visitor tokens instead of the relay's `tokenSecret` (a list during a
     * rotation). Replacing it signs out every visitor of this site, and no other.
     */
    tokenSecret: oneOrMore(z.string().min(32, 'must be at least 32 characters')).optional(),
    /** Bearer secret of the backend REST API for this site. */
    apiSecret: oneOrMore(z.string().min(16, 'must be at least 16 characters')),
    /** Secret for identity signatures (`hex(HMAC-SHA256(identitySecret, userId))`). */
    identitySecret: oneOrMore(z.string().min(16, 'must be at least 16 characters')).optional(),
    /** Shown at once on open, with no backend round trip. */
    greeting: greeting.default({ text: 'Hi! How can we help?', quickReplies: [] }),
    /** The locale of `greeting`, and of the widget's strings for a visitor whose language no locale matches. Default `en`. */
    defaultLocale: localeTag.default('en'),
    /**
     * Per language tag: the greeting and some widget strings for visitors of that locale (exact tag,
     * then the tag cut short, then the same language: `pt-BR` → `pt`, `zh-TW` → `zh-CN`). See docs/configuration.md.
     */
    locales: z
      .record(z.string(), siteLocale)
      .superRefine((locales, ctx) => {
        for (const tag of Object.keys(locales)) if (!LOCALE_TAG.test(tag)) ctx.addIssue({ code: 'custom', path: [tag], message: TAG_HINT });
      })
      .default({}),
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
    /**
     * How events reach the backend: `fallback` (default) over a connected backend socket
     * (`/v1/backend`), by webhook while none is connected; `only` over a socket, events wait while
     * none is connected; `off` by webhook only (a socket is refused).
     */
    backendSocket: z.enum(['off', 'fallback', 'only']).default('fallback'),
    /**
     * Also send the visitor's typing (throttled per conversation) and read marks as webhooks
     * (`visitor.typing`, `visitor.read`): ephemeral, sent once, never queued nor retried. Off by
     * default; a connected backend socket always gets them as `typing` and `read` frames.
     */
    activityWebhooks: z.boolean().default(false),
    /**
     * Let visitors attach files (off when absent): the relay asks the backend for an upload target
     * (`upload.requested`) and checks every file URL against `hosts`. See docs/configuration.md.
     */
    uploads: uploads.optional(),
    /** The widget's look on every page of the site (a page's `theme` option wins key by key). See docs/configuration.md. */
    theme: siteTheme.optional(),
    /**
     * Proactive messages: each shows in a bubble above the launcher once its conditions hold
     * (time on page, URL, scroll depth, exit intent, returning visitor, a page attribute),
     * evaluated in the browser. See docs/configuration.md.
     */
    triggers: siteTriggers(greeting, localeTag).default([]),
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
    /** New visitors (a `hello` without a visitor token) accepted per client address per minute. */
    newVisitorsPerIpPerMinute: z.number().int().min(1).default(120),
    /** Largest stored visitor context (page, product and attributes), in bytes of JSON. */
    maxContextBytes: z.number().int().min(1024).max(64 * 1024).default(16 * 1024),
    /**
     * Failed authentications (wrong API secret, forged or expired visitor token, wrong identity
     * signature) per client address, in a bucket shared by every relay on the engine. A failure
     * that finds it empty blocks the address for `authBlockMs`.
     */
    authFailuresPerIp: rate.default({ perSecond: 0.2, burst: 20 }),
    /** How long an address that used up `authFailuresPerIp` is refused (429 / close 4004) before anything is checked. */
    authBlockMs: z.number().int().min(1).max(3_600_000).default(60_000),
    /** At most one `context.updated` webhook per conversation per this many ms; the latest context wins. */
    contextUpdateIntervalMs: z.number().int().min(0).max(3_600_000).default(5_000),
    /** Time a client has to send its request headers (a WebSocket upgrade included); a slowloris socket is cut after it. */
    headersTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    /** Time a client has to send a whole request, body included. */
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** An idle keep-alive HTTP connection is closed after this long. */
    keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
    /**
     * Plain HTTP connections (not yet upgraded, or kept alive) one address may hold at once; more are
     * answered 429 and closed. Counted by TCP peer, so it is off with `trustProxy` (the proxy's own
     * limits apply there). 0 turns it off.
     */
    maxHttpConnectionsPerIp: z.number().int().min(0).default(64),
    /**
     * A streamed answer with no step (delta, repeated start) for this long is closed by the relay as
     * if aborted: the text so far enters the log marked incomplete.
     */
    streamStallMs: z.number().int().min(100).max(3_600_000).default(30_000),
    /**
     * The visitor's typing reaches the backend at most once per this many ms per conversation (the
     * first `on` at once, a later one when the interval ends, each `off` after an `on`).
     */
    typingIntervalMs: z.number().int().min(0).max(60_000).default(3_000),
    /**
     * Typing frames a socket may send without spending its `rateLimit` tokens; past this bucket
     * they spend them like any frame, so a flood is cut all the same.
     */
    typingRateLimit: rate.default({ perSecond: 2, burst: 10 }),
  })
  .strict();
export type LimitsConfig = z.infer<typeof LimitsConfig>;

/** Where the SQLite engine keeps its file when the config names none: beside the config file (or the working directory when there is no file); env `PARLEY_DATA` wins. */
export const DEFAULT_SQLITE_PATH = 'data/parley.db';

/** The engine and its settings. */
export const EngineConfig = z.discriminatedUnion('type', [
  z.object({ type: z.literal('memory') }).strict(),
  z
    .object({
      type: z.literal('sqlite'),
      /** The database file; its directory is created. In a config file, a relative path resolves against the file's directory. */
      path: z.string().min(1).default(DEFAULT_SQLITE_PATH),
      /**
       * `FULL` (default): an acked message survives power loss. `NORMAL`: faster commits; an acked
       * message survives a crash of the relay but the last commits may be lost on power loss.
       */
      synchronous: z.enum(['FULL', 'NORMAL']).default('FULL'),
    })
    .strict(),
  z
    .object({
      type: z.literal('redis'),
      /** `redis://[user:password@]host:port[/db]` (`rediss://` for TLS). Several relay instances share it. */
      url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
      /** Prefix of every key and pub/sub channel, so several relays can share one server. Default `parley:`. */
      prefix: z.string().min(1).max(100).optional(),
    })
    .strict(),
]);
export type EngineConfig = z.infer<typeof EngineConfig>;

/** Webhook delivery. */
export const WebhooksConfig = z
  .object({
    /** Time the backend has to answer one delivery. */
    timeoutMs: z.number().int().min(1).default(10_000),
    /** Wait before each retry, in ms; full jitter is applied around each step. */
    retryScheduleMs: z.array(z.number().int().min(0)).default([...DEFAULT_RETRY_SCHEDULE_MS]),
    /** Deliveries in flight at once (a batch is one). */
    concurrency: z.number().int().min(1).max(1000).default(16),
    /**
     * For sites with `webhookBatch` above 1: while deliveries are in flight, an event just queued
     * waits up to this long for others to join its batch (a quiet relay sends at once). 0: never wait.
     */
    batchWaitMs: z.number().int().min(0).max(1000).default(5),
    /** On shutdown, attempts in flight get this long to finish; the rest are aborted and retried after a restart. */
    drainMs: z.number().int().min(0).max(60_000).default(5_000),
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
    /**
     * Secret that signs visitor tokens; or a list, the first signing and every one verifying, to
     * rotate without signing visitors out (list the new secret first, drop the old one after
     * `tokenTtlDays`). Replacing it outright signs every visitor out of their conversation.
     */
    tokenSecret: z.union([z.string().min(32, 'must be at least 32 characters'), z.array(z.string().min(32, 'must be at least 32 characters')).min(1).max(5)]),
    /** Lifetime of a visitor token; every connection renews it, so only a visitor away this long starts over. */
    tokenTtlDays: z.number().int().min(1).max(3650).default(30),
    /** pino log level. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Trust `X-Forwarded-For` from a proxy in front of the relay (needed for per-IP limits behind a load balancer). */
    trustProxy: z.boolean().default(false),
    /**
     * Where state lives: `sqlite` (the default: one durable file, one instance) or `memory`
     * (tests and throwaway demos: nothing survives a restart). See docs/configuration.md.
     */
    engine: EngineConfig.default({ type: 'sqlite', path: DEFAULT_SQLITE_PATH, synchronous: 'FULL' }),
    limits: LimitsConfig.default(LimitsConfig.parse({})),
    webhooks: WebhooksConfig.default(WebhooksConfig.parse({})),
    /**
     * Who may read `/metrics`. Default: loopback addresses only, on the relay's port. `token`: any
     * address with `Authorization: Bearer <token>`. `port` (and `host`, default 127.0.0.1): a
     * listener of its own, and nothing on the relay's port.
     */
    metrics: z
      .object({
        token: z.string().min(16, 'must be at least 16 characters').optional(),
        port: z.number().int().min(0).max(65535).optional(),
        host: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
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
      for (const secret of secretList(site.apiSecret)) {
        if (secrets.has(secret)) ctx.addIssue({ code: 'custom', path: ['sites', i, 'apiSecret'], message: 'must differ between sites' });
      }
      // Only a site whose events go over the backend socket alone may do without webhooks.
      if (site.backendSocket !== 'only') {
        if (!site.webhookUrl) ctx.addIssue({ code: 'custom', path: ['sites', i, 'webhookUrl'], message: 'required unless backendSocket is "only"' });
        if (!site.webhookSecret) ctx.addIssue({ code: 'custom', path: ['sites', i, 'webhookSecret'], message: 'required unless backendSocket is "only"' });
      }
      keys.add(site.siteKey);
      for (const secret of secretList(site.apiSecret)) secrets.add(secret);
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
 * `PORT`, `HOST`, `PARLEY_DATA` (the SQLite file) and `PARLEY_ASSETS` (colon-separated
 * directories) on top. Relative `assets` directories and a relative SQLite `engine.path` resolve
 * against the file's directory, those of `PARLEY_DATA` and `PARLEY_ASSETS` against the
 * working directory. Throws `ConfigError` naming the bad key.
 */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const path = file ?? env.PARLEY_CONFIG;
  if (!path) throw new ConfigError('No config file: pass --config FILE or set PARLEY_CONFIG.', '(file)');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read relay config ${path}: ${(err as Error).message}`, '(file)');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8's message can quote the text around the mistake, which may be a secret: give only the place.
    const at = /at position (\d+)/.exec((err as Error).message);
    const where = at ? ` at line ${text.slice(0, Number(at[1])).split('\n').length}` : '';
    throw new ConfigError(`Cannot read relay config ${path}: it is not valid JSON${where}.`, '(file)');
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const obj = raw as Record<string, unknown>;
    if (env.PORT !== undefined && env.PORT !== '') {
      if (!/^\d{1,5}$/.test(env.PORT)) throw new ConfigError(`Invalid relay config: PORT: must be a port number`, 'PORT');
      obj.port = Number(env.PORT);
    }
    if (env.HOST) obj.host = env.HOST;
    const engine = obj.engine === undefined ? { type: 'sqlite' } : obj.engine;
    if (engine && typeof engine === 'object' && !Array.isArray(engine) && (engine as Record<string, unknown>).type === 'sqlite') {
      const e = { ...(engine as Record<string, unknown>) };
      if (env.PARLEY_DATA) e.path = resolve(env.PARLEY_DATA);
      else if (e.path === undefined) e.path = resolve(dirname(path), DEFAULT_SQLITE_PATH);
      else if (typeof e.path === 'string' && e.path) e.path = resolve(dirname(path), e.path);
      obj.engine = e;
    }
    if (env.PARLEY_ASSETS) obj.assets = env.PARLEY_ASSETS.split(':').filter(Boolean).map((dir) => resolve(dir));
    else if (Array.isArray(obj.assets)) obj.assets = obj.assets.map((dir: unknown) => (typeof dir === 'string' && dir ? resolve(dirname(path), dir) : dir));
  }
  return parseConfig(raw);
}
