import { signWebhook, type ServerFrame, type WebhookEvent } from '@parley/protocol';
import { buildApp, webhookJobId } from '@parley/relay';
import { afterEach, describe, expect, test } from 'vitest';
import { startAiBot } from './ai-bot.js';
import { chatCompletionText } from './chat-stream.js';
import { DEFAULT_MODEL, readConfig } from './config.js';
import { openVisitor, startMockModel, type MockAnswer } from './test-support.js';

// The bot between a real relay on port 0 (a `ws` client plays the widget) and a mock
// OpenAI-compatible endpoint on port 0: no network.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ORIGIN = 'https://shop.example';
const API_SECRET = 'sk_ai_bot_test_0123456789';
const WEBHOOK_SECRET = 'whsec_' + Buffer.from('ai-bot-test-webhook-secret-0123').toString('base64');
const ANSWER = ['Orders ', 'ship ', 'within ', '24 hours', '; returns ', 'are free ', 'for 30 days.'];
const BOT = { role: 'bot', name: 'Shop AI', ai: true };

async function mockModel(answer: (index: number) => MockAnswer) {
  const model = await startMockModel(answer);
  cleanups.push(model.close);
  return model;
}

/** The mock model, the bot, and a relay that sends the bot its webhooks (`webhookBatch` events per request at most). */
async function setup(answer: (index: number) => MockAnswer, webhookBatch = 1) {
  const model = await mockModel(answer);
  const lines: string[] = [];
  // The relay listens after the bot (its config names the bot's URL): the bot's calls wait for it.
  let relayReady!: (url: string) => void;
  const relayUrl = new Promise<string>((resolve) => (relayReady = resolve));
  const bot = await startAiBot({
    port: 0,
    relayUrl: 'http://relay.pending',
    apiSecret: API_SECRET,
    webhookSecret: WEBHOOK_SECRET,
    model: { apiKey: 'sk-test', baseUrl: model.baseUrl, model: 'mock-model' },
    botName: 'Shop AI',
    log: (line) => lines.push(line),
    fetch: async (input, init) => fetch(String(input).replace('http://relay.pending', await relayUrl), init),
  });
  const app = buildApp(
    {
      tokenSecret: 'token-secret-for-the-ai-bot-test-0123456789',
      engine: { type: 'memory' },
      logLevel: 'silent',
      sites: [{ siteKey: 'pk_ai', name: 'AI Shop', allowedOrigins: [ORIGIN], webhookUrl: bot.webhookUrl, webhookSecret: WEBHOOK_SECRET, apiSecret: API_SECRET, webhookBatch }],
    },
    { logger: false, webhooks: { pollMs: 20, concurrency: 1 }, closeGraceMs: 100 },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  relayReady(base);
  cleanups.push(async () => {
    await bot.close();
    await app.close();
  });
  const visitor = await openVisitor(base, ORIGIN, 'pk_ai');
  cleanups.push(() => visitor.close());
  /** Send a text as the visitor; resolves with the bot's finished answer to it. */
  const ask = async (id: string, text: string) => {
    visitor.send({ t: 'send', id, body: { type: 'text', text } });
    const seq = ((await visitor.take((f) => f.t === 'ack' && f.id === id)) as { seq: number }).seq;
    return (await visitor.take((f) => f.t === 'msg' && f.from.role === 'bot' && f.seq > seq)) as Extract<ServerFrame, { t: 'msg' }>;
  };
  return { model, bot, lines, visitor, ask, base };
}

/** The text a widget shows while an answer streams: the offset rule over its draft frames. */
function draftText(frames: ServerFrame[], id: string): string {
  let draft = '';
  for (const f of frames) if (f.t === 'draft' && f.id === id && f.offset <= draft.length) draft = draft.slice(0, f.offset) + f.text;
  return draft;
}

/** POST a webhook to the bot, signed with `secret`. */
async function deliver(url: string, event: WebhookEvent, secret = WEBHOOK_SECRET): Promise<number> {
  const body = JSON.stringify(event);
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': event.id, 'webhook-timestamp': String(ts), 'webhook-signature': await signWebhook(secret, event.id, ts, body) },
    body,
  });
  return res.status;
}

describe('the AI bot behind a relay', () => {
  test("streams the model's words to the visitor as drafts, then the finished answer, marked AI", async () => {
    const { model, visitor, ask } = await setup(() => ({ chunks: ANSWER, delayMs: 30 }));
    const answer = await ask('m_1', 'How fast do you ship?');
    expect(answer).toMatchObject({ from: BOT, body: { type: 'text', text: ANSWER.join('') } });
    expect(answer.incomplete).toBeUndefined();
    expect(visitor.frames.filter((f) => f.t === 'draft' && f.id === answer.id).length).toBeGreaterThan(1);
    expect(ANSWER.join('').startsWith(draftText(visitor.frames, answer.id))).toBe(true);
    expect(model.requests).toHaveLength(1);
    expect(model.requests[0]!.headers.authorization).toBe('Bearer sk-test');
    expect(model.requests[0]!.body).toMatchObject({ model: 'mock-model', stream: true });
    expect(model.requests[0]!.body.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(model.requests[0]!.body.messages.at(-1)).toEqual({ role: 'user', content: 'How fast do you ship?' });
  });

  test('with batched webhooks (webhookBatch), each visitor of a batch gets the answer to their own question', async () => {
    const { model, base, visitor } = await setup(() => ({ chunks: ANSWER, delayMs: 5 }), 10);
    const others = await Promise.all([1, 2, 3].map(() => openVisitor(base, ORIGIN, 'pk_ai')));
    for (const v of others) cleanups.push(() => v.close());
    // One delivery at a time (concurrency 1): the questions queued behind the first go as a batch.
    const all = [visitor, ...others];
    all.forEach((v, i) => v.send({ t: 'send', id: `q_${i}`, body: { type: 'text', text: `Question ${i}?` } }));
    for (const [i, v] of all.entries()) {
      await v.take((f) => f.t === 'ack' && f.id === `q_${i}`);
      const answer = await v.take((f) => f.t === 'msg' && f.from.role === 'bot');
      expect(answer).toMatchObject({ from: BOT, body: { type: 'text', text: ANSWER.join('') } });
    }
    expect(model.requests.map((r) => r.body.messages.at(-1)?.content).sort()).toEqual(['Question 0?', 'Question 1?', 'Question 2?', 'Question 3?']);
  });

  test('the model sees the conversation so far', async () => {
    const { model, ask } = await setup((i) => ({ chunks: i === 0 ? ANSWER : ['Yes, ', 'free.'] }));
    await ask('m_1', 'How fast do you ship?');
    await ask('m_2', 'And returns are free?');
    expect(model.requests[1]!.body.messages.slice(1)).toEqual([
      { role: 'user', content: 'How fast do you ship?' },
      { role: 'assistant', content: ANSWER.join('') },
      { role: 'user', content: 'And returns are free?' },
    ]);
  });

  test('a model stream cut mid-answer leaves the words so far as an incomplete answer', async () => {
    const { ask, lines } = await setup(() => ({ chunks: ANSWER, delayMs: 80, cutAfter: 3 }));
    const answer = await ask('m_1', 'How fast do you ship?');
    expect(answer).toMatchObject({ incomplete: true, from: BOT, body: { type: 'text', text: ANSWER.slice(0, 3).join('') } });
    expect(lines.some((l) => l.includes('stopped'))).toBe(true);
  });

  test("the visitor's feedback on an answer reaches the bot", async () => {
    const { visitor, ask, lines } = await setup(() => ({ chunks: ANSWER }));
    const answer = await ask('m_1', 'How fast do you ship?');
    visitor.send({ t: 'feedback', id: 'fb_1', messageId: answer.id, value: 'up' });
    const line = `feedback up on ${answer.id} in ${visitor.conversationId}`;
    const deadline = Date.now() + 5000;
    while (!lines.includes(line) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(lines).toContain(line);
  });

  test('a redelivered webhook writes nothing twice and asks the model once; a badly signed one is refused', async () => {
    const { model, bot, visitor, ask } = await setup(() => ({ chunks: ANSWER }));
    const first = await ask('m_1', 'How fast do you ship?');
    await bot.settled();
    // The relay's delivery of m_1 (its webhook id derives from the conversation and the message), delivered again.
    const question = visitor.frames.find((f) => f.t === 'msg' && f.id === 'm_1') as Extract<ServerFrame, { t: 'msg' }>;
    const again: WebhookEvent = {
      id: webhookJobId(visitor.conversationId, 'm_1', 'message.created'),
      type: 'message.created',
      createdAt: Date.now(),
      siteKey: 'pk_ai',
      conversationId: visitor.conversationId,
      visitor: { id: 'v_any' },
      data: { message: { seq: question.seq, id: question.id, ts: question.ts, from: question.from, body: question.body } },
    };
    expect(await deliver(bot.webhookUrl, again)).toBe(204);
    await bot.settled();
    expect(model.requests).toHaveLength(1);
    expect(visitor.frames.filter((f) => f.t === 'msg' && f.id === first.id)).toHaveLength(1);
    const wrong = 'whsec_' + Buffer.from('not-the-secret-of-this-site-0000').toString('base64');
    expect(await deliver(bot.webhookUrl, { ...again, id: 'evt_forged' }, wrong)).toBe(401);
    await bot.settled();
    expect(model.requests).toHaveLength(1);
  });
});

describe('chatCompletionText', () => {
  test('yields the text of each streamed chunk and ends at [DONE]', async () => {
    const model = await mockModel(() => ({ chunks: ['Hel', 'lo', '!'] }));
    const parts: string[] = [];
    for await (const part of chatCompletionText({ apiKey: 'k', baseUrl: model.baseUrl + '/', model: 'm', messages: [{ role: 'user', content: 'hi' }] })) parts.push(part);
    expect(parts).toEqual(['Hel', 'lo', '!']);
  });

  test('throws when the endpoint refuses the request or the stream ends before [DONE]', async () => {
    const model = await mockModel((i) => (i === 0 ? { chunks: [], status: 401 } : { chunks: ['a', 'b'], cutAfter: 1 }));
    const read = async () => {
      const parts: string[] = [];
      for await (const part of chatCompletionText({ apiKey: 'k', baseUrl: model.baseUrl, model: 'm', messages: [] })) parts.push(part);
      return parts;
    };
    expect(await read().catch((e: Error) => e.message)).toMatch(/^The model endpoint answered HTTP 401: .*Incorrect API key/);
    expect(await read().catch((e: unknown) => e)).toBeInstanceOf(Error);
  });
});

describe('readConfig', () => {
  test('refuses to start without OPENAI_API_KEY, with a message that names it', () => {
    const result = readConfig({ PARLEY_API_SECRET: 'a', PARLEY_WEBHOOK_SECRET: 'b' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain('OPENAI_API_KEY is not set');
  });

  test('defaults to the OpenAI endpoint, its model and the demo site', () => {
    const result = readConfig({ OPENAI_API_KEY: 'sk-1' });
    expect(result).toMatchObject({
      ok: true,
      options: { port: 3001, relayUrl: 'http://127.0.0.1:8787', apiSecret: 'demo-only-api-secret-change-me', model: { apiKey: 'sk-1', baseUrl: 'https://api.openai.com/v1', model: DEFAULT_MODEL } },
    });
    expect(readConfig({ OPENAI_API_KEY: 'sk-1', OPENAI_BASE_URL: 'localhost:11434' })).toMatchObject({ ok: false });
    expect(readConfig({ OPENAI_API_KEY: 'sk-1', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', OPENAI_MODEL: 'llama3.2' })).toMatchObject({
      ok: true,
      options: { model: { baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2' } },
    });
  });
});
