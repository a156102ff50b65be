// Run the demo merchant backend: `node examples/demo-backend/dist/main.js`.
// Every setting comes from the environment; the secrets default to the demo site
// (`pk_demo`) in examples/relay.config.json, so `npm start` needs no setup.
import { readFileSync } from 'node:fs';
import { startDemoBackend } from './demo-backend.js';

interface DemoSite {
  siteKey: string;
  apiSecret?: string;
  webhookSecret?: string;
  identitySecret?: string;
}

function demoSite(): DemoSite | undefined {
  try {
    const config = JSON.parse(readFileSync(new URL('../../relay.config.json', import.meta.url), 'utf8')) as { sites?: DemoSite[] };
    return config.sites?.find((s) => s.siteKey === (process.env.PARLEY_SITE_KEY ?? 'pk_demo'));
  } catch {
    return undefined;
  }
}

const env = process.env;
const site = demoSite();
const apiSecret = env.PARLEY_API_SECRET ?? site?.apiSecret;
const webhookSecret = env.PARLEY_WEBHOOK_SECRET ?? site?.webhookSecret;
if (!apiSecret || !webhookSecret) {
  console.error('Set PARLEY_API_SECRET and PARLEY_WEBHOOK_SECRET (or keep examples/relay.config.json with the pk_demo site).');
  process.exit(1);
}

const bot = env.DEMO_BOT || 'ai';
const wordMs = env.AI_WORD_MS ? Number(env.AI_WORD_MS) : 45;
if ((bot !== 'ai' && bot !== 'rules') || !(wordMs >= 0 && wordMs <= 5000)) {
  console.error('DEMO_BOT must be "ai" or "rules", and AI_WORD_MS a number of milliseconds (0–5000).');
  process.exit(1);
}

try {
  const backend = await startDemoBackend({
    port: Number(env.PORT ?? 3001),
    host: env.HOST ?? '127.0.0.1',
    relayUrl: env.RELAY_URL ?? 'http://127.0.0.1:8787',
    apiSecret,
    webhookSecret,
    identitySecret: env.PARLEY_IDENTITY_SECRET ?? site?.identitySecret,
    openHours: env.OPEN_HOURS || null,
    shopUrl: env.SHOP_URL ?? 'http://127.0.0.1:5173',
    dataDir: env.DATA_DIR || null,
    bot,
    aiWordMs: wordMs,
  });
  console.log(`Demo backend: agent console ${backend.url}/console, webhooks ${backend.webhookUrl}`);
  const stop = () => void backend.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (err) {
  console.error(`Demo backend could not start: ${(err as Error).message}`);
  process.exit(1);
}
