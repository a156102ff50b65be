// The demo shop alone, as docker-compose.yml runs it: static pages, the Parley loader and widget
// bundle, and the demo shopper's signed identity from the demo backend.
// Env: PORT (5173), HOST (127.0.0.1), RELAY_URL (the relay as the browser reaches it,
// http://localhost:8080), BACKEND_URL (the demo backend as this process reaches it,
// http://127.0.0.1:3001), PARLEY_SITE_KEY (pk_demo).
import { startShop } from '../shop/dist/server.js';

const env = process.env;
const backendUrl = env.BACKEND_URL ?? 'http://127.0.0.1:3001';
const shop = await startShop({
  port: Number(env.PORT ?? 5173),
  host: env.HOST ?? '127.0.0.1',
  relayUrl: env.RELAY_URL ?? 'http://localhost:8080',
  siteKey: env.PARLEY_SITE_KEY ?? 'pk_demo',
  identity: async () => {
    const res = await fetch(`${backendUrl}/demo/identity`);
    if (!res.ok) throw new Error(`identity: HTTP ${res.status}`);
    return res.json();
  },
});
console.log(`Demo shop: ${shop.url}/`);
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void shop.close().then(() => process.exit(0)));
