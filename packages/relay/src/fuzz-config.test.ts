// Mutated relay configs, as objects, as files and through the CLI: every invalid one is refused
// with a ConfigError naming the bad key, every valid mutation is accepted with its value, and no
// error message carries any part of a secret.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from './config.js';
import { cli, exited, requireBuiltCli, start } from './test-support/cli-process.js';

const TOKEN_SECRET = 'tokSECRET-4f1d9a7c2b8e6f0a3d5c7e9b1a2c4d6e';
const API_SECRET = 'apiSECRET-77c1e0b9d3a5f2e8';
const API_SECRET_2 = 'apiSECRET-2-a4b6c8d0e2f4a6b8';
const IDENTITY_SECRET = 'idSECRET-5e7a9c1b3d5f7a9c';
const WEBHOOK_SECRET = 'whsec_' + Buffer.from('whSECRET-bytes-0123456789abcdef!').toString('base64');
const METRICS_TOKEN = 'mtSECRET-0f2e4d6c8b0a';
const REDIS_PASSWORD = 'rdSECRET-9a8b7c6d5e';

/** A full valid config: every section present, so every key can be mutated. */
function base(): Record<string, any> {
  return {
    host: '127.0.0.1',
    port: 8787,
    tokenSecret: TOKEN_SECRET,
    tokenTtlDays: 30,
    logLevel: 'info',
    trustProxy: false,
    engine: { type: 'memory' },
    limits: {
      maxFrameBytes: 16384,
      maxConnectionsPerIp: 50,
      helloTimeoutMs: 10000,
      idleTimeoutMs: 75000,
      rateLimit: { perSecond: 10, burst: 40 },
      rateLimitStrikes: 20,
      maxInvalidFrames: 10,
      maxBufferedBytes: 1048576,
      restRateLimit: { perSecond: 100, burst: 200 },
      newVisitorsPerIpPerMinute: 120,
      maxContextBytes: 16384,
      authFailuresPerIp: { perSecond: 0.2, burst: 20 },
      authBlockMs: 60000,
      contextUpdateIntervalMs: 5000,
      headersTimeoutMs: 10000,
      requestTimeoutMs: 30000,
      keepAliveTimeoutMs: 5000,
      maxHttpConnectionsPerIp: 64,
      streamStallMs: 30000,
      typingIntervalMs: 3000,
      typingRateLimit: { perSecond: 2, burst: 10 },
    },
    webhooks: { timeoutMs: 10000, retryScheduleMs: [5000, 30000], concurrency: 16, drainMs: 5000 },
    metrics: { token: METRICS_TOKEN },
    sites: [
      {
        siteKey: 'pk_live',
        name: 'Live Shop',
        allowedOrigins: ['https://shop.example'],
        allowNoOrigin: false,
        webhookUrl: 'https://shop.example/webhooks/parley',
        webhookSecret: WEBHOOK_SECRET,
        apiSecret: API_SECRET,
        identitySecret: IDENTITY_SECRET,
        greeting: { text: 'Hi!', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
        retention: { maxMessages: 1000, maxAgeHours: 168 },
        online: true,
        backendSocket: 'fallback',
        activityWebhooks: false,
      },
      {
        siteKey: 'pk_two',
        name: 'Second Shop',
        allowedOrigins: ['*'],
        webhookUrl: 'http://127.0.0.1:3001/hook',
        webhookSecret: WEBHOOK_SECRET,
        apiSecret: [API_SECRET_2],
      },
    ],
  };
}

/** Wrong values that are themselves secret-looking: they must not leak either. */
const SHORT_SECRET = 'shSECRET-abc';
const SECRETS = [TOKEN_SECRET, API_SECRET, API_SECRET_2, IDENTITY_SECRET, WEBHOOK_SECRET, WEBHOOK_SECRET.slice(6), METRICS_TOKEN, REDIS_PASSWORD, SHORT_SECRET];

/** No eight characters in a row of any secret. */
function expectNoSecret(message: string): void {
  for (const secret of SECRETS) {
    for (let i = 0; i + 8 <= secret.length; i++) {
      const piece = secret.slice(i, i + 8);
      if (message.includes(piece)) expect(message, `leaks ${secret}`).not.toContain(piece);
    }
  }
}

/** Each key, with values the schema must refuse and values it must accept. */
const KEYS: Array<[path: string, wrong: unknown[], right: unknown[]]> = [
  ['host', ['', 5, null], ['::', 'relay.internal']],
  ['port', [-1, 65536, 1.5, '80', null], [0, 65535]],
  ['tokenSecret', [SHORT_SECRET, 5, [], [SHORT_SECRET], [TOKEN_SECRET, TOKEN_SECRET, TOKEN_SECRET, TOKEN_SECRET, TOKEN_SECRET, TOKEN_SECRET]], [[TOKEN_SECRET, `${TOKEN_SECRET}-old`]]],
  ['tokenTtlDays', [0, 3651, 1.5, '30'], [1, 3650]],
  ['logLevel', ['verbose', 1, null], ['silent', 'trace']],
  ['trustProxy', ['yes', 1, null], [true]],
  ['engine', ['memory', null, [], { type: 'mysql' }, { type: 'memory', path: 'x' }], [{ type: 'sqlite', path: 'x.db', synchronous: 'NORMAL' }, { type: 'redis', url: `redis://user:${REDIS_PASSWORD}@127.0.0.1:6379/2` }]],
  ['engine.type', ['mysql', 1, null], []],
  ['limits.maxFrameBytes', [255, 16385, 1.5, '1024'], [256, 16384]],
  ['limits.maxConnectionsPerIp', [0, -1, 2.5], [1]],
  ['limits.helloTimeoutMs', [0, 'x'], [1]],
  ['limits.idleTimeoutMs', [0, null], [1]],
  ['limits.rateLimit', [null, 5, {}], [{ perSecond: 0.5, burst: 1 }]],
  ['limits.rateLimit.perSecond', [0, -1, 'x'], [0.001]],
  ['limits.rateLimit.burst', [0, 1.5], [1]],
  ['limits.rateLimitStrikes', [0], [1]],
  ['limits.maxInvalidFrames', [0], [1]],
  ['limits.maxBufferedBytes', [1023, 'big'], [1024]],
  ['limits.restRateLimit.burst', [0], [1]],
  ['limits.newVisitorsPerIpPerMinute', [0], [1]],
  ['limits.maxContextBytes', [1023, 65537], [1024, 65536]],
  ['limits.authFailuresPerIp.perSecond', [0], [1000]],
  ['limits.authBlockMs', [0, 3_600_001], [1, 3_600_000]],
  ['limits.contextUpdateIntervalMs', [-1, 3_600_001], [0]],
  ['limits.headersTimeoutMs', [99, 120_001], [100, 120_000]],
  ['limits.requestTimeoutMs', [99, 600_001], [100]],
  ['limits.keepAliveTimeoutMs', [99], [600_000]],
  ['limits.maxHttpConnectionsPerIp', [-1, 0.5], [0]],
  ['limits.streamStallMs', [99, 3_600_001, 1.5], [100, 3_600_000]],
  ['limits.typingIntervalMs', [-1, 60_001, 1.5], [0, 60_000]],
  ['limits.typingRateLimit.burst', [0, 1.5], [1]],
  ['webhooks.timeoutMs', [0, 'x'], [1]],
  ['webhooks.retryScheduleMs', ['x', 5, null], [[], [0]]],
  ['webhooks.retryScheduleMs.0', [-1, 1.5, 'x'], [0]],
  ['webhooks.concurrency', [0, 1001], [1, 1000]],
  ['webhooks.drainMs', [-1, 60_001], [0, 60_000]],
  ['metrics.token', [SHORT_SECRET, 5], [`${METRICS_TOKEN}-longer`]],
  ['metrics.port', [-1, 65536], [0, 9090]],
  ['metrics.host', ['', 1], ['0.0.0.0']],
  ['assets', [[], 'dir', ['']], [['dist']]],
  ['sites', [[], {}, 'x', null], []],
  ['sites.0', [null, 'x', []], []],
  ['sites.0.siteKey', ['', 'has space', 'x'.repeat(201), 5], ['pk_a-b_C9']],
  ['sites.0.name', ['', 5, 'n'.repeat(201)], ['N']],
  ['sites.0.allowedOrigins', [[], ['https://shop.example/path'], 'https://shop.example', ['shop.example']], [['*'], ['http://localhost:5173']]],
  ['sites.0.allowNoOrigin', ['no'], [true]],
  ['sites.0.webhookUrl', ['ftp://shop.example/x', 'not a url', 5], ['http://10.0.0.1:8080/x']],
  ['sites.0.webhookSecret', [SHORT_SECRET, 'whsec_!!!!', 'whsec_' + Buffer.from('fifteen-bytes!!').toString('base64'), [], 5], [[WEBHOOK_SECRET, WEBHOOK_SECRET]]],
  ['sites.0.apiSecret', [SHORT_SECRET, [], Array(6).fill(API_SECRET), 5, [SHORT_SECRET]], [[API_SECRET, `${API_SECRET}-next`]]],
  ['sites.0.identitySecret', [SHORT_SECRET, []], [`${IDENTITY_SECRET}-next`]],
  ['sites.0.greeting', ['hi', null], [{ text: 'Hello' }]],
  ['sites.0.greeting.text', ['', 't'.repeat(4001), 5], ['t'.repeat(4000)]],
  ['sites.0.greeting.quickReplies', [[{ label: '', value: 'x' }], Array(11).fill({ label: 'a', value: 'b' }), 'x'], [[]]],
  ['sites.0.retention.maxMessages', [0, 1_000_001, 1.5], [1, 1_000_000]],
  ['sites.0.retention.maxAgeHours', [0, 8761], [0.5, 8760]],
  ['sites.0.online', ['yes'], [false]],
  ['sites.0.backendSocket', ['sometimes', true], ['off', 'only']],
  ['sites.0.activityWebhooks', ['yes', 1], [true]],
  // Across sites: keys unique, API secrets distinct.
  ['sites.1.siteKey', ['pk_live'], ['pk_three']],
  ['sites.1.apiSecret', [API_SECRET, [API_SECRET_2, API_SECRET]], [`${API_SECRET_2}-next`]],
];

/** Required keys, and the objects that refuse unknown keys. */
const REQUIRED = ['tokenSecret', 'sites', 'sites.0.siteKey', 'sites.0.name', 'sites.0.allowedOrigins', 'sites.0.webhookUrl', 'sites.0.webhookSecret', 'sites.0.apiSecret', 'sites.1.webhookSecret', 'limits.rateLimit.perSecond', 'limits.rateLimit.burst', 'sites.0.greeting.text', 'engine.type'];
const STRICT = ['', 'limits', 'limits.rateLimit', 'webhooks', 'metrics', 'engine', 'sites.0', 'sites.1', 'sites.0.greeting', 'sites.0.retention', 'sites.0.greeting.quickReplies.0'];

const dotted = (...parts: string[]) => parts.filter(Boolean).join('.');
function parentOf(o: Record<string, any>, path: string): [Record<string, any>, string] {
  const keys = path.split('.');
  let at: any = o;
  for (const k of keys.slice(0, -1)) at = at[k];
  return [at, keys.at(-1)!];
}

type Mutation = { path: string; kind: 'wrong' | 'right' | 'delete' | 'unknown'; value?: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...KEYS).chain(([path, wrong]) => fc.constantFrom(...wrong).map((value): Mutation => ({ path, kind: 'wrong', value }))) },
  { weight: 2, arbitrary: fc.constantFrom(...KEYS.filter(([, , right]) => right.length)).chain(([path, , right]) => fc.constantFrom(...right).map((value): Mutation => ({ path, kind: 'right', value }))) },
  { weight: 2, arbitrary: fc.constantFrom(...REQUIRED).map((path): Mutation => ({ path, kind: 'delete' })) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...STRICT), fc.stringMatching(/^[a-z][a-zA-Z]{0,12}$/)).map(([parent, key]): Mutation => ({ path: dotted(parent, `x${key}`), kind: 'unknown', value: SHORT_SECRET })) },
);

/** Apply mutations in order; those that no longer fit (a parent replaced by a scalar) are dropped. */
function apply(mutations: Mutation[]): { config: Record<string, any>; applied: Mutation[] } {
  const config = base();
  const applied: Mutation[] = [];
  for (const m of mutations) {
    let parent: any;
    let key: string;
    try {
      [parent, key] = parentOf(config, m.path);
    } catch {
      continue;
    }
    if (typeof parent !== 'object' || parent === null || applied.some((a) => a.path === m.path || m.path.startsWith(`${a.path}.`) || a.path.startsWith(`${m.path}.`))) continue;
    if (m.kind === 'delete') {
      if (!(key in parent)) continue;
      delete parent[key];
    } else parent[key] = structuredClone(m.value);
    applied.push(m);
  }
  return { config, applied };
}

/** The ConfigError `fn` throws, or the config it accepted. */
function outcome<T>(fn: () => T): { error: ConfigError } | { config: T } {
  try {
    return { config: fn() };
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return { error: err as ConfigError };
  }
}

/** The key a bad mutation must be reported under: an unknown key by its own name, others by their path or a path inside it. */
function names(error: ConfigError, m: Mutation): boolean {
  if (m.kind === 'unknown') return error.key === m.path;
  return error.key === m.path || error.key.startsWith(`${m.path}.`) || (m.path === '' && error.key === '(root)');
}

describe('mutated configs', () => {
  test('one mutation: an invalid config is a ConfigError naming the key; a valid one is accepted with its value', () => {
    fc.assert(
      fc.property(mutation, (m) => {
        const { config, applied } = apply([m]);
        fc.pre(applied.length === 1);
        const result = outcome(() => parseConfig(config));
        if (m.kind === 'right') {
          expect('config' in result ? 'accepted' : (result as { error: ConfigError }).error.message).toBe('accepted');
          const [parent, key] = parentOf((result as { config: any }).config, m.path);
          expect(parent[key]).toMatchObject(m.value as object);
          return;
        }
        expect('error' in result, `${m.kind} ${m.path} was accepted`).toBe(true);
        const { error } = result as { error: ConfigError };
        expect(names(error, m), `${m.kind} ${m.path}=${JSON.stringify(m.value)?.slice(0, 40)} reported as ${error.key}: ${error.message}`).toBe(true);
        expect(error.message).toContain(error.key === '(root)' ? 'Invalid relay config' : error.key);
        expectNoSecret(error.message);
      }),
      { numRuns: 1500, seed: 14_030 },
    );
  });

  test('several mutations: refused unless every one is valid, naming one of the bad keys, never with a secret', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 2, maxLength: 5 }), (ms) => {
        const { config, applied } = apply(ms);
        const bad = applied.filter((m) => m.kind !== 'right');
        const result = outcome(() => parseConfig(config));
        if (!bad.length) {
          expect('config' in result).toBe(true);
          return;
        }
        expect('error' in result, `accepted with ${bad.map((m) => `${m.kind} ${m.path}`).join(', ')}`).toBe(true);
        const { error } = result as { error: ConfigError };
        expect(bad.some((m) => names(error, m)), `${error.key} is none of ${bad.map((m) => m.path).join(', ')}`).toBe(true);
        expectNoSecret(error.message);
      }),
      { numRuns: 1000, seed: 14_031 },
    );
  });

  test('a config that is not an object is refused at the root', () => {
    for (const value of [null, undefined, [], 'relay', 42, true]) {
      const result = outcome(() => parseConfig(value));
      expect('error' in result && result.error.key).toBe('(root)');
    }
  });
});

describe('mutated config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-fuzz-config-'));
  let n = 0;
  const file = (text: string) => {
    const path = join(dir, `relay-${n++}.json`);
    writeFileSync(path, text);
    return path;
  };
  const text = JSON.stringify(base(), null, 2);

  test('broken JSON is a ConfigError on (file) that quotes no part of the file', () => {
    // Breaks where operators make them: an unquoted or cut value, a stray character, a lost comma.
    const broken = fc.oneof(
      fc.constantFrom(...SECRETS.slice(0, 5)).map((s) => text.replace(`"${s}"`, s)),
      fc.nat({ max: text.length - 2 }).map((at) => text.slice(0, at + 1)),
      fc.tuple(fc.nat({ max: text.length - 1 }), fc.constantFrom('x', '}', '"', ',', '\u0001', '//')).map(([at, c]) => text.slice(0, at) + c + text.slice(at)),
      fc.nat({ max: text.length - 1 }).map((at) => text.slice(0, at) + text.slice(at + 1)),
    );
    fc.assert(
      fc.property(broken, (t) => {
        let json = true;
        try {
          JSON.parse(t);
        } catch {
          json = false;
        }
        const result = outcome(() => loadConfig(file(t), {}));
        if (json) return; // Still JSON: covered by the schema properties above.
        expect('error' in result).toBe(true);
        const { error } = result as { error: ConfigError };
        expect(error.key).toBe('(file)');
        expectNoSecret(error.message);
      }),
      { numRuns: 300, seed: 14_032 },
    );
  });

  test('env overrides are checked like the file: PORT names itself, a bad file key is named as in the file', () => {
    const good = file(text);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: -10, max: 200_000 }).map(String)), (port) => {
        const result = outcome(() => loadConfig(good, { PORT: port }));
        const n = Number(port);
        if (port === '') expect('config' in result).toBe(true);
        else if (!/^\d{1,5}$/.test(port)) expect('error' in result && result.error.key).toBe('PORT');
        else if (n > 65535) expect('error' in result && result.error.key).toBe('port');
        else expect('config' in result && result.config.port).toBe(n);
      }),
      { numRuns: 200, seed: 14_033 },
    );
    const bad = file(JSON.stringify({ ...base(), limits: { ...base().limits, maxFrameBytes: 99 } }));
    const result = outcome(() => loadConfig(bad, { PORT: '8080' }));
    expect('error' in result && result.error.key).toBe('limits.maxFrameBytes');
  });
});

describe('the CLI with a bad config', () => {
  test('exits 1 with the bad key on stderr and no secret, for a schema error and for broken JSON', async () => {
    requireBuiltCli();
    const dir = mkdtempSync(join(tmpdir(), 'parley-fuzz-cli-'));
    const schema = join(dir, 'schema.json');
    writeFileSync(schema, JSON.stringify({ ...base(), sites: [{ ...base().sites[0], apiSecret: SHORT_SECRET }] }));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify(base()).replace(`"${TOKEN_SECRET}"`, TOKEN_SECRET));
    const [a, b] = await Promise.all([schema, broken].map((f) => exited(start(process.execPath, [cli, '--config', f]))));
    expect(a!.code).toBe(1);
    expect(a!.output).toContain('sites.0.apiSecret');
    expect(b!.code).toBe(1);
    expect(b!.output).toContain('broken.json');
    expectNoSecret(a!.output + b!.output);
  });
});
