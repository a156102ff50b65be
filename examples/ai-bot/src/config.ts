import { readFileSync } from 'node:fs';
import { DEFAULT_BASE_URL } from './chat-stream.js';
import type { AiBotOptions } from './ai-bot.js';

/** The model used when `OPENAI_MODEL` is not set. */
export const DEFAULT_MODEL = 'gpt-4o-mini';

interface DemoSite {
  siteKey: string;
  apiSecret?: string;
  webhookSecret?: string;
}

/** The `pk_demo` site of examples/relay.config.json, whose secrets are public demo values. */
function demoSite(): DemoSite | undefined {
  try {
    const config = JSON.parse(readFileSync(new URL('../../relay.config.json', import.meta.url), 'utf8')) as { sites?: DemoSite[] };
    return config.sites?.find((s) => s.siteKey === 'pk_demo');
  } catch {
    return undefined;
  }
}

/** The bot's settings from the environment, or the reason it cannot start. */
export function readConfig(env: NodeJS.ProcessEnv): { ok: true; options: AiBotOptions & { port: number; host: string } } | { ok: false; message: string } {
  const apiKey = env.OPENAI_API_KEY?.trim();
  if (!apiKey) {
    return {
      ok: false,
      message:
        'OPENAI_API_KEY is not set: the AI bot needs a key for an OpenAI-compatible endpoint. ' +
        'Set it (and OPENAI_BASE_URL for another provider, OPENAI_MODEL for another model) and start again.',
    };
  }
  const baseUrl = env.OPENAI_BASE_URL?.trim() || DEFAULT_BASE_URL;
  if (!/^https?:\/\//.test(baseUrl)) return { ok: false, message: `OPENAI_BASE_URL must be an http(s) URL, not "${baseUrl}".` };
  const site = env.PARLEY_API_SECRET && env.PARLEY_WEBHOOK_SECRET ? undefined : demoSite();
  const apiSecret = env.PARLEY_API_SECRET ?? site?.apiSecret;
  const webhookSecret = env.PARLEY_WEBHOOK_SECRET ?? site?.webhookSecret;
  if (!apiSecret || !webhookSecret) return { ok: false, message: 'Set PARLEY_API_SECRET and PARLEY_WEBHOOK_SECRET (or keep examples/relay.config.json with the pk_demo site).' };
  const port = Number(env.PORT ?? 3001);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { ok: false, message: `PORT must be a port number, not "${env.PORT}".` };
  return {
    ok: true,
    options: {
      port,
      host: env.HOST ?? '127.0.0.1',
      relayUrl: env.RELAY_URL ?? 'http://127.0.0.1:8787',
      apiSecret,
      webhookSecret,
      model: { apiKey, baseUrl, model: env.OPENAI_MODEL?.trim() || DEFAULT_MODEL },
      ...(env.AI_SYSTEM_PROMPT ? { systemPrompt: env.AI_SYSTEM_PROMPT } : {}),
    },
  };
}
