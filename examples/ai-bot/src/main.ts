// Run the AI bot: `node examples/ai-bot/dist/main.js` (after `npx tsc -b`), with OPENAI_API_KEY set.
import { startAiBot } from './ai-bot.js';
import { readConfig } from './config.js';

const config = readConfig(process.env);
if (!config.ok) {
  console.error(config.message);
  process.exit(1);
}

try {
  const bot = await startAiBot(config.options);
  console.log(`AI bot (${config.options.model.model} at ${config.options.model.baseUrl}): webhooks ${bot.webhookUrl}`);
  const stop = () => void bot.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (err) {
  console.error(`AI bot could not start: ${(err as Error).message}`);
  process.exit(1);
}
