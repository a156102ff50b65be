import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RelayError, bodyOf, createRelayClient, verifyWebhooks, type WebhookEventOf } from '@parley/backend';
import { chatCompletionText, type ChatMessage } from './chat-stream.js';

export interface AiBotOptions {
  /** Port to listen on; 0 picks a free one. Default 3001. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** The relay's base URL. */
  relayUrl: string;
  /** The site's `apiSecret`. */
  apiSecret: string;
  /** The site's `webhookSecret` (`whsec_…`): every webhook is verified with it. */
  webhookSecret: string;
  /** An OpenAI-compatible chat completions endpoint. */
  model: { apiKey: string; baseUrl: string; model: string };
  /** What the model is told about its job. */
  systemPrompt?: string;
  /** The name shown on answers (labelled "AI" by the widget). Default "Shop assistant". */
  botName?: string;
  /** Longest time one answer may take, from the request to the model to the last word. Default 60 s. */
  answerTimeoutMs?: number;
  /** Log lines (never message text or secrets). Default: stdout. */
  log?: (line: string) => void;
  /** Fetch implementation for the relay client. */
  fetch?: typeof fetch;
}

export interface AiBot {
  url: string;
  /** The endpoint to put in the site's `webhookUrl`. */
  webhookUrl: string;
  /** Resolves when the answers being written are done. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const SYSTEM_PROMPT =
  "You are the customer-service assistant of an online shop. Answer the shopper's questions briefly and kindly, " +
  'in their language, in plain text without Markdown. If you do not know, say so and suggest talking to a human.';

/** Earlier messages of the conversation the model sees. */
const CONTEXT_ENTRIES = 20;
/** One event, or a batch of up to 100 (a site with webhookBatch above 1). */
const MAX_BODY = 8 * 1024 * 1024;

/** The answer's message id, derived from the webhook id: a redelivery finds the same answer. */
const answerIdOf = (webhookId: string) => `ai_${createHash('sha256').update(webhookId).digest('base64url').slice(0, 24)}`;

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * A merchant backend whose bot is a language model: each visitor text (`message.created`) is
 * answered with `relay.streamMessage`, fed by a streamed chat completion, so the visitor reads
 * the answer as it is written. Feedback on answers (`message.feedback`) is logged.
 */
export async function startAiBot(options: AiBotOptions): Promise<AiBot> {
  const relay = createRelayClient({ url: options.relayUrl, apiSecret: options.apiSecret, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const log = options.log ?? ((line: string) => console.log(line));
  const from = { role: 'bot' as const, name: options.botName ?? 'Shop assistant', ai: true };
  /** Answers being written, by id: a delivery that comes again meanwhile starts no second one. */
  const writing = new Map<string, Promise<void>>();
  /** Aborted by `close()`: answers being written stop, logged as incomplete. */
  const closing = new AbortController();

  /** The conversation so far, as chat messages, ending with the visitor's new text. */
  async function contextOf(event: WebhookEventOf<'message.created'>, text: string): Promise<ChatMessage[]> {
    const messages: ChatMessage[] = [{ role: 'system', content: options.systemPrompt ?? SYSTEM_PROMPT }];
    const seq = event.data.message.seq;
    try {
      const page = await relay.history(event.conversationId, { after: Math.max(0, seq - 1 - CONTEXT_ENTRIES), limit: CONTEXT_ENTRIES });
      for (const entry of page.entries) {
        if (entry.kind !== 'msg' || entry.seq >= seq) continue;
        if (entry.body.type !== 'text' && entry.body.type !== 'quick_replies') continue;
        messages.push({ role: entry.from.role === 'visitor' ? 'user' : 'assistant', content: entry.body.text });
      }
    } catch (err) {
      // Without the history the model still answers the question itself.
      log(`history of ${event.conversationId} unavailable: ${err instanceof RelayError ? err.code : (err as Error).message}`);
    }
    messages.push({ role: 'user', content: text });
    return messages;
  }

  function answer(event: WebhookEventOf<'message.created'>): void {
    const text = bodyOf(event, 'text')?.text;
    if (!text) return;
    const id = answerIdOf(event.id);
    if (writing.has(id)) return;
    const work = (async () => {
      const signal = AbortSignal.any([AbortSignal.timeout(options.answerTimeoutMs ?? 60_000), closing.signal]);
      try {
        const messages = await contextOf(event, text);
        const textStream = chatCompletionText({ ...options.model, messages, signal });
        const result = await relay.streamMessage(event.conversationId, textStream, { id, from, signal });
        log(`answered in ${event.conversationId}: ${id} at seq ${result.seq}${result.duplicate ? ' (already sent)' : ''}`);
      } catch (err) {
        // The relay has logged what was written as incomplete; the visitor can ask again or ask for a human.
        log(`answer ${id} in ${event.conversationId} stopped: ${err instanceof RelayError ? err.code : (err as Error).message}`);
      }
    })().finally(() => writing.delete(id));
    writing.set(id, work);
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/webhooks/parley') {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      const raw = await readBody(req);
      if (!raw) {
        res.writeHead(413).end();
        return;
      }
      // One event, or a batch of them (a site with webhookBatch above 1).
      const verified = await verifyWebhooks(options.webhookSecret, req.headers, raw);
      if (!verified.ok) {
        log(`webhook refused: ${verified.code}`);
        res.writeHead(verified.status).end();
        return;
      }
      // Answer the delivery at once; the model writes afterwards, streamed to the visitor.
      for (const event of verified.events) {
        if (event.type === 'message.created') answer(event);
        else if (event.type === 'message.feedback') log(`feedback ${event.data.value} on ${event.data.messageId} in ${event.conversationId}`);
      }
      res.writeHead(204).end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3001, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  const settled = async () => {
    while (writing.size) await Promise.all(writing.values());
  };
  return {
    url,
    webhookUrl: `${url}/webhooks/parley`,
    settled,
    async close() {
      closing.abort(new Error('The AI bot is shutting down.'));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await settled();
    },
  };
}
