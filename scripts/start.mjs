#!/usr/bin/env node
// `npm start`: build what is needed, then run the whole demo — the relay, the demo merchant
// backend with its agent console, and the demo shop — in one process. Chats are kept in
// data/demo (git-ignored) across restarts; `rm -rf data/demo` starts over.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

if (!process.argv.includes('--no-build')) {
  console.log('Building Parley…');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const { startDemo } = await import('../examples/shop/dist/index.js');
const dataDir = fileURLToPath(new URL('../data/demo', import.meta.url));
const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const demo = await startDemo({
  relayPort: env('RELAY_PORT', 8787),
  backendPort: env('BACKEND_PORT', 3001),
  shopPort: env('SHOP_PORT', 5173),
  logLevel: process.env.LOG_LEVEL ?? 'warn',
  openHours: process.env.OPEN_HOURS ?? null,
  dataDir,
  // Typed questions get the demo AI's streamed answers; DEMO_BOT=rules keeps the FAQ bot alone.
  bot: process.env.DEMO_BOT === 'rules' ? 'rules' : 'ai',
});

console.log(`
Parley demo is running.

  Shop (visitor):         ${demo.shopUrl}/
  Agent console:          ${demo.consoleUrl}
  Relay:                  ${demo.relayUrl}  (health: ${demo.relayUrl}/healthz, metrics: ${demo.relayUrl}/metrics)
  Data:                   ${dataDir}  (kept across restarts; delete it to start over)

Open the shop, click the chat button, tap a choice or type a question ("how long does
shipping take?", "order 1001"): the demo AI streams its answer, with its sources and 👍/👎.
Tap "Talk to a human", then answer from the agent console. Ctrl+C stops everything.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await demo.close();
    process.exit(0);
  });
}
