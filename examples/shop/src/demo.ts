import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoBackend, type DemoBackend, type DemoBackendOptions } from '@parley/demo-backend';
import { buildApp, loadConfig, type EngineConfig, type LimitsConfig, type SiteConfig } from '@parley/relay';
import { startShop, type Shop } from './server.js';

const CONFIG = fileURLToPath(new URL('../../relay.config.json', import.meta.url));

export interface DemoOptions {
  host?: string;
  /** Ports; 0 picks free ones. Defaults: relay 8787, backend 3001, shop 5173. */
  relayPort?: number;
  backendPort?: number;
  shopPort?: number;
  /** Content-Security-Policy of the shop pages (default: strict); null sends none. */
  csp?: string | null;
  /** Extra static folders for the shop (test pages). */
  staticDirs?: string[];
  /** Relay log level. Default "info"; tests use "silent". */
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug';
  /** Forward webhooks through this URL instead of straight to the backend (tests record them). */
  webhookUrl?: (backend: DemoBackend) => Promise<string> | string;
  /** Webhook retry schedule override, in ms. */
  retryScheduleMs?: number[];
  /** Opening hours for the demo backend ("09:00-18:00"); absent means always open. */
  openHours?: string | null;
  /**
   * Where the demo keeps its data, so a restart keeps the chats: the relay's SQLite file
   * (`relay.db`) and the demo backend's state (`desk.json`). Null or absent: the relay's
   * memory engine and a backend in memory, nothing written to disk (tests).
   */
  dataDir?: string | null;
  /** Who answers typed questions in the demo backend: `rules` (default, the FAQ bot) or `ai` (streamed answers). */
  bot?: 'rules' | 'ai';
  /** In `ai` mode, milliseconds between streamed words. */
  aiWordMs?: number;
  /** In `ai` mode, the chunks an answer is streamed in (tests: a model that fails or stalls). */
  aiWrite?: DemoBackendOptions['aiWrite'];
  /** Relay limits to override (tests: a short `streamStallMs`). */
  relayLimits?: Partial<LimitsConfig>;
  /** The demo site's `theme` and `triggers` instead of the config file's (tests: a short trigger). */
  site?: Partial<Pick<SiteConfig, 'theme' | 'triggers'>>;
}

export interface Demo {
  relayUrl: string;
  backendUrl: string;
  consoleUrl: string;
  shopUrl: string;
  backend: DemoBackend;
  shop: Shop;
  close(): Promise<void>;
}

/**
 * Start the whole demo in one process: the relay with examples/relay.config.json (SQLite in
 * `dataDir`, else the memory engine), the demo merchant backend with its agent console, and
 * the demo shop.
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const host = options.host ?? '127.0.0.1';
  const config = loadConfig(CONFIG, {});
  const dataDir = options.dataDir ?? null;
  const site = config.sites[0]!;
  const engine: EngineConfig = dataDir ? { type: 'sqlite', path: join(dataDir, 'relay.db'), synchronous: 'FULL' } : { type: 'memory' };
  let relayUrl = '';
  let backendUrl = '';
  let uploadOrigin: string | null = null;

  const shop = await startShop({
    port: options.shopPort ?? 5173,
    host,
    relayUrl: () => relayUrl,
    siteKey: site.siteKey,
    ...(options.csp !== undefined ? { csp: options.csp } : {}),
    ...(options.staticDirs ? { staticDirs: options.staticDirs } : {}),
    // Attachments go to the demo backend's file store: its origin is in the shop's CSP.
    uploadOrigins: () => (uploadOrigin ? [uploadOrigin] : []),
    // The demo backend signs the demo shopper, as a merchant's server would.
    identity: async () => {
      const res = await fetch(`${backendUrl}/demo/identity`);
      if (!res.ok) throw new Error(`identity: HTTP ${res.status}`);
      return res.json();
    },
  });

  // The relay must know the backend's URL and the backend the relay's: fix the relay's
  // port first (a free one when asked for 0), start the backend, then the relay.
  const relayPort = options.relayPort === 0 ? await freePort(host) : (options.relayPort ?? config.port);
  relayUrl = `http://${host}:${relayPort}`;
  const backend = await startDemoBackend({
    port: options.backendPort ?? 3001,
    host,
    relayUrl,
    // During a rotation the config lists several secrets; the demo backend uses the first.
    apiSecret: [site.apiSecret].flat()[0]!,
    webhookSecret: [site.webhookSecret].flat()[0]!,
    ...(site.identitySecret ? { identitySecret: [site.identitySecret].flat()[0]! } : {}),
    shopUrl: shop.url,
    openHours: options.openHours ?? null,
    dataDir,
    ...(options.logLevel === 'silent' ? { log: () => {} } : {}),
    ...(options.bot ? { bot: options.bot } : {}),
    ...(options.aiWordMs !== undefined ? { aiWordMs: options.aiWordMs } : {}),
    ...(options.aiWrite ? { aiWrite: options.aiWrite } : {}),
  });

  backendUrl = backend.url;
  uploadOrigin = backend.uploadOrigin;
  const origins = new Set(site.allowedOrigins);
  origins.add(shop.url);
  origins.add(shop.url.replace('127.0.0.1', 'localhost'));
  const webhookUrl = options.webhookUrl ? await options.webhookUrl(backend) : backend.webhookUrl;
  const app = buildApp(
    {
      ...config,
      engine,
      logLevel: options.logLevel ?? config.logLevel,
      limits: { ...config.limits, ...options.relayLimits },
      // The demo backend takes webhooks only, so it opts in to the visitor's typing and read marks as webhooks too.
      // The relay takes upload targets and file URLs on the demo backend's origin alone.
      sites: [{ ...site, ...options.site, allowedOrigins: [...origins], webhookUrl, activityWebhooks: true, ...(site.uploads && uploadOrigin ? { uploads: { ...site.uploads, hosts: [uploadOrigin] } } : {}) }],
    },
    options.retryScheduleMs ? { webhooks: { retryScheduleMs: options.retryScheduleMs } } : {},
  );
  await app.listen({ port: relayPort, host });

  return {
    relayUrl,
    backendUrl: backend.url,
    consoleUrl: `${backend.url}/console`,
    shopUrl: shop.url,
    backend,
    shop,
    async close() {
      // AI answers still being written are logged incomplete while the relay is there to take it.
      backend.stopAnswers();
      await backend.settled();
      await app.close();
      await backend.close();
      await shop.close();
    },
  };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
