#!/usr/bin/env node
// parley-relay --config FILE: start the relay. Env: PARLEY_CONFIG (config file), PORT, HOST, PARLEY_DATA, PARLEY_ASSETS.
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

const USAGE = `Usage: parley-relay --config FILE

Starts the Parley relay. The config file is JSON (see docs/configuration.md).
Environment: PARLEY_CONFIG (config file when --config is not given), PORT, HOST,
PARLEY_DATA (the SQLite database file), PARLEY_ASSETS (colon-separated directories
holding loader.js and parley.iife.js).`;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.values.help) {
    console.log(USAGE);
    return;
  }
  let config;
  let app;
  try {
    config = loadConfig(args.values.config);
    app = buildApp(config, { defaultMetrics: true });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: closing widget sockets (going away) and finishing webhook attempts');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await app.close();
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
  app.log.info(
    { engine: app.parley.engine.name, ...(config.engine.type === 'sqlite' ? { path: config.engine.path, synchronous: config.engine.synchronous } : {}), sites: config.sites.map((s) => s.siteKey), assets: config.assets ?? [] },
    'parley relay ready',
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
