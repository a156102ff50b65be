import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from './config.js';
import { testConfig } from './test-support/harness.js';

const example = fileURLToPath(new URL('../../../examples/relay.config.json', import.meta.url));

function keyOf(input: unknown): string {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).key;
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  test('the engine defaults to SQLite beside the config file; PARLEY_DATA moves it; memory and redis are chosen by type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-engine-'));
    const file = join(dir, 'relay.json');
    writeFileSync(file, JSON.stringify(testConfig('http://127.0.0.1:9/hook', { engine: undefined })));
    expect(loadConfig(file, {}).engine).toEqual({ type: 'sqlite', path: join(dir, 'data/parley.db'), synchronous: 'FULL' });
    expect(loadConfig(file, { PARLEY_DATA: 'x/y.db' }).engine).toMatchObject({ type: 'sqlite', path: resolve('x/y.db') });
    writeFileSync(file, JSON.stringify(testConfig('http://127.0.0.1:9/hook', { engine: { type: 'sqlite', path: 'state/p.db', synchronous: 'NORMAL' } })));
    expect(loadConfig(file, {}).engine).toEqual({ type: 'sqlite', path: join(dir, 'state/p.db'), synchronous: 'NORMAL' });
    // PARLEY_DATA concerns the SQLite file only.
    expect(parseConfig(testConfig('http://127.0.0.1:9/hook')).engine).toEqual({ type: 'memory' });
    expect(keyOf(testConfig('http://127.0.0.1:9/hook', { engine: { type: 'sqlite', synchronous: 'OFF' } as never }))).toBe('engine.synchronous');
    expect(keyOf(testConfig('http://127.0.0.1:9/hook', { engine: { type: 'postgres' } as never }))).toBe('engine.type');
  });

  test('the compose example runs two relays on one Redis with AOF behind a load balancer', () => {
    const compose = readFileSync(fileURLToPath(new URL('../../../docker-compose.yml', import.meta.url)), 'utf8');
    const config = loadConfig(fileURLToPath(new URL('../../../examples/compose/relay.json', import.meta.url)), { PARLEY_DATA: '/data/parley.db' });
    expect(config.engine).toEqual({ type: 'redis', url: 'redis://redis:6379', prefix: 'parley:' });
    expect(config.trustProxy).toBe(true);
    expect(compose).toMatch(/--appendonly", "yes"/);
    expect(compose.match(/^  relay-\d+:$/gm)).toHaveLength(2);
    expect(compose).toContain('./examples/compose/relay.json:/config/relay.json:ro');
    expect(compose).toContain('./examples/compose/nginx.conf');
  });

  test('the example config is valid: pk_demo on port 8787 with a human handoff button', () => {
    const config = loadConfig(example, {});
    expect(config.port).toBe(8787);
    const site = config.sites[0]!;
    expect(site.siteKey).toBe('pk_demo');
    expect(site.allowedOrigins).toEqual(['http://localhost:5173', 'http://127.0.0.1:5173', 'http://localhost:5174']);
    expect(site.webhookUrl).toBe('http://127.0.0.1:3001/webhooks/parley');
    expect(site.greeting.quickReplies).toContainEqual({ label: 'Talk to a human', value: 'parley:human' });
    // Its asset directories resolve against examples/, whatever the working directory.
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    expect(config.assets).toEqual([join(root, 'packages/loader/dist'), join(root, 'packages/widget/dist')]);
  });

  test('defaults fill in limits, webhooks, retention and availability', () => {
    const config = parseConfig(testConfig('http://127.0.0.1:1/hook'));
    expect(config.limits).toMatchObject({ maxFrameBytes: 16384, helloTimeoutMs: 10_000 });
    expect(config.webhooks.retryScheduleMs[0]).toBe(5000);
    expect(config.sites[1]!.retention).toEqual({ maxMessages: 1000, maxAgeHours: 168 });
    expect(config.sites[1]!.online).toBe(true);
  });

  test('a bad value is reported by its dotted key', () => {
    const base = testConfig('http://127.0.0.1:1/hook') as { sites: Record<string, unknown>[] };
    const site = (patch: Record<string, unknown>) => ({ ...base, sites: [{ ...base.sites[0], ...patch }] });
    expect(keyOf(site({ webhookUrl: 'ftp://x' }))).toBe('sites.0.webhookUrl');
    expect(keyOf(site({ webhookSecret: 'plain' }))).toBe('sites.0.webhookSecret');
    expect(keyOf(site({ allowedOrigins: ['https://shop.example/path'] }))).toBe('sites.0.allowedOrigins.0');
    expect(keyOf(site({ colour: 'red' }))).toBe('sites.0.colour');
    expect(keyOf({ ...base, tokenSecret: 'short' })).toBe('tokenSecret');
    expect(keyOf({ ...base, limits: { maxFrameBytes: 1_000_000 } })).toBe('limits.maxFrameBytes');
    expect(keyOf({ ...base, sites: [base.sites[0], base.sites[0]] })).toBe('sites.1.siteKey');
  });

  test('a site needs a webhookUrl and webhookSecret unless its events go over the backend socket only', () => {
    const base = testConfig('http://127.0.0.1:1/hook') as { sites: Record<string, unknown>[] };
    const { webhookUrl: _url, webhookSecret: _secret, ...bare } = base.sites[0]!;
    expect(keyOf({ ...base, sites: [bare] })).toBe('sites.0.webhookUrl');
    expect(keyOf({ ...base, sites: [{ ...bare, backendSocket: 'fallback' }] })).toBe('sites.0.webhookUrl');
    expect(parseConfig({ ...base, sites: [{ ...bare, backendSocket: 'only' }] } as never).sites[0]!.webhookUrl).toBeUndefined();
  });

  test('PORT and HOST from the environment win over the file; a bad PORT is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-'));
    const file = join(dir, 'relay.json');
    writeFileSync(file, JSON.stringify(testConfig('http://127.0.0.1:1/hook')));
    expect(loadConfig(undefined, { PARLEY_CONFIG: file, PORT: '9999', HOST: '127.0.0.1' })).toMatchObject({ port: 9999, host: '127.0.0.1' });
    expect(() => loadConfig(file, { PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig(undefined, {})).toThrow(ConfigError);
  });

  test('relative `assets` resolve against the config file\'s directory; absolute ones stay', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-'));
    const file = join(dir, 'relay.json');
    writeFileSync(file, JSON.stringify(testConfig('http://127.0.0.1:1/hook', { assets: ['public', '../shared/dist', '/srv/parley'] })));
    expect(loadConfig(file, {}).assets).toEqual([join(dir, 'public'), resolve(dir, '../shared/dist'), '/srv/parley']);
  });

  test('PARLEY_ASSETS (colon-separated) wins over the file; its relative dirs resolve against the working directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-'));
    const file = join(dir, 'relay.json');
    writeFileSync(file, JSON.stringify(testConfig('http://127.0.0.1:1/hook', { assets: ['public'] })));
    expect(loadConfig(file, { PARLEY_ASSETS: '/app/public:rel/dist' }).assets).toEqual(['/app/public', resolve('rel/dist')]);
    expect(loadConfig(file, { PARLEY_ASSETS: '' }).assets).toEqual([join(dir, 'public')]);
    const plain = join(dir, 'plain.json');
    writeFileSync(plain, JSON.stringify(testConfig('http://127.0.0.1:1/hook')));
    expect(loadConfig(plain, {}).assets).toBeUndefined();
    expect(loadConfig(plain, { PARLEY_ASSETS: '/app/public' }).assets).toEqual(['/app/public']);
    expect(() => loadConfig(plain, { PARLEY_ASSETS: ':' })).toThrow(expect.objectContaining({ key: 'assets' }));
    expect(keyOf(testConfig('http://127.0.0.1:1/hook', { assets: [''] }))).toBe('assets.0');
  });
});
