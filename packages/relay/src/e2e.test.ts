import { afterEach, describe, expect, test } from 'vitest';
import { createRelayClient, verifyWebhook } from '@parley/backend';
import { MemoryEngine } from './engine/memory.js';
import type { AppendRequest, AppendResult } from './engine/types.js';
import { API_SECRET, TestClient, WEBHOOK_SECRET, startBackend, startRelay, testConfig } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(answer?: Parameters<typeof startBackend>[0]) {
  const backend = await startBackend(answer);
  cleanups.push(backend.close);
  const relay = await startRelay(testConfig(backend.url));
  cleanups.push(relay.close);
  return { backend, relay };
}

function client(url: string) {
  return TestClient.open(url).then((c) => {
    cleanups.push(() => c.close());
    return c;
  });
}

describe('end to end: widget → relay → backend → relay → widget', () => {
  test('hello is answered by welcome with the site greeting, name, limits and a token', async () => {
    const { relay } = await setup();
    const c = await client(relay.wsUrl);
    const welcome = await c.hello();
    expect(welcome).toMatchObject({
      t: 'welcome',
      v: 1,
      lastSeq: 0,
      site: { name: 'Test Shop' },
      online: true,
      greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
      limits: { maxFrameBytes: 16384, maxTextLength: 4000, maxQuickReplies: 10 },
    });
    expect(welcome.conversationId).toMatch(/^c_/);
    expect(welcome.token.length).toBeGreaterThan(20);
  });

  test('opening the widget sends no webhook; the first message sends conversation.started then message.created, signed', async () => {
    const { backend, relay } = await setup();
    const c = await client(relay.wsUrl);
    const welcome = await c.hello({ page: { url: 'https://shop.example/p/1', title: 'Boots' } });
    c.send({ t: 'ping' });
    await c.take('pong');
    expect(backend.received).toHaveLength(0);

    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'Where is my order?' } });
    const ack = await c.take('ack');
    expect(ack).toMatchObject({ t: 'ack', id: 'm1', seq: 1 });

    const [started, created] = await backend.waitFor(2);
    for (const rec of [started!, created!]) {
      const verified = await verifyWebhook(WEBHOOK_SECRET, rec.headers as Record<string, string>, rec.raw, { toleranceSec: 300 });
      expect(verified.ok).toBe(true);
      expect(rec.headers['webhook-id']).toBe(rec.json.id);
      expect(rec.headers['webhook-signature']).toMatch(/^v1,/);
    }
    expect(started!.json).toMatchObject({
      type: 'conversation.started',
      siteKey: 'pk_test',
      conversationId: welcome.conversationId,
      visitor: { id: welcome.visitorId },
      data: { context: { page: { url: 'https://shop.example/p/1', title: 'Boots' } } },
    });
    expect(created!.json).toMatchObject({
      type: 'message.created',
      conversationId: welcome.conversationId,
      data: { message: { seq: 1, id: 'm1', from: { role: 'visitor' }, body: { type: 'text', text: 'Where is my order?' } } },
    });
    // A tampered body does not verify.
    const forged = await verifyWebhook(WEBHOOK_SECRET, created!.headers as Record<string, string>, created!.raw.replace('order', 'money'), {});
    expect(forged.ok).toBe(false);
  });

  test('a REST reply is pushed, in seq order, to every socket of the conversation', async () => {
    const { backend, relay } = await setup();
    const a = await client(relay.wsUrl);
    const welcome = await a.hello();
    const b = await client(relay.wsUrl);
    const second = await b.hello({ token: welcome.token });
    expect(second.conversationId).toBe(welcome.conversationId);

    a.send({ t: 'send', id: 'q1', body: { type: 'text', text: 'Do you ship to Norway?' } });
    await a.take('ack');
    await backend.waitFor(2);

    const api = createRelayClient({ url: relay.base, apiSecret: API_SECRET });
    const r1 = await api.sendMessage(welcome.conversationId, { id: 'r1', from: { role: 'agent', name: 'Mia' }, body: { type: 'text', text: 'Yes, in 3 days.' } });
    expect(r1).toMatchObject({ duplicate: false, message: { seq: 2, id: 'r1' } });
    await api.sendMessage(welcome.conversationId, {
      id: 'r2',
      body: { type: 'quick_replies', text: 'Anything else?', replies: [{ label: 'No', value: 'no' }] },
    });
    const again = await api.sendMessage(welcome.conversationId, { id: 'r1', from: { role: 'agent', name: 'Mia' }, body: { type: 'text', text: 'Yes, in 3 days.' } });
    expect(again).toMatchObject({ duplicate: true, message: { seq: 2 } });

    for (const c of [a, b]) {
      await c.take((f) => f.t === 'msg' && f.id === 'r2');
      expect(c.msgs().map((m) => [m.seq, m.id])).toEqual([
        [1, 'q1'],
        [2, 'r1'],
        [3, 'r2'],
      ]);
    }
    expect(a.msgs()[1]).toMatchObject({ from: { role: 'agent', name: 'Mia' } });
    expect(a.msgs()[2]).toMatchObject({ from: { role: 'bot' } });
  });

  test('a 2xx webhook answer with messages is appended at once as bot replies, once even if redelivered', async () => {
    const { backend, relay } = await setup((rec) =>
      rec.json.type === 'message.created'
        ? { status: 200, body: { messages: [{ body: { type: 'text', text: 'Our bot says hi' } }, { id: 'fixed', body: { type: 'text', text: 'Second' } }] } }
        : { status: 204 },
    );
    const c = await client(relay.wsUrl);
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hello' } });
    const reply = await c.take((f) => f.t === 'msg' && f.from.role === 'bot');
    const created = (await backend.waitFor(2)).find((r) => r.json.type === 'message.created')!;
    expect(reply).toMatchObject({ seq: 2, id: `${created.json.id}-0`, body: { text: 'Our bot says hi' } });
    await c.take((f) => f.t === 'msg' && f.id === 'fixed');
  });

  test('a webhook really redelivered (its reply half appended) appends each inline reply once', async () => {
    const engine = new (class extends MemoryEngine {
      failNext = true;
      override async append(request: AppendRequest): Promise<AppendResult | null> {
        // The second reply of the first delivery fails: the delivery is retried as a whole.
        if (request.entry.id === 'fixed' && this.failNext) {
          this.failNext = false;
          throw new Error('disk full');
        }
        return super.append(request);
      }
    })();
    const backend = await startBackend((rec) =>
      rec.json.type === 'message.created'
        ? { status: 200, body: { messages: [{ body: { type: 'text', text: 'Our bot says hi' } }, { id: 'fixed', body: { type: 'text', text: 'Second' } }] } }
        : { status: 204 },
    );
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { engine, webhooks: { retryScheduleMs: [20, 20, 20], pollMs: 20 } });
    cleanups.push(relay.close);
    const c = await client(relay.wsUrl);
    const w = await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hello' } });
    await c.take((f) => f.t === 'msg' && f.id === 'fixed');
    const deliveries = backend.received.filter((r) => r.json.type === 'message.created');
    expect(deliveries).toHaveLength(2);
    expect(deliveries[1]!.headers['webhook-id']).toBe(deliveries[0]!.headers['webhook-id']);
    const history = await relay.api('GET', `/v1/conversations/${w.conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string }) => e.id)).toEqual(['m1', `${deliveries[0]!.json.id}-0`, 'fixed']);
    c.send({ t: 'ping' });
    await c.take('pong');
    expect(c.msgs().map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  test('postbacks map to their webhook types; the human button is a handoff request', async () => {
    const { backend, relay } = await setup();
    const c = await client(relay.wsUrl);
    await c.hello();
    c.send({ t: 'send', id: 'p1', body: { type: 'postback', value: 'shipping', label: 'Shipping' } });
    c.send({ t: 'send', id: 'p2', body: { type: 'postback', value: 'parley:human', label: 'Talk to a human' } });
    c.send({ t: 'send', id: 'p3', body: { type: 'rating', score: 5, comment: 'great' } });
    c.send({ t: 'context', product: { title: 'Red boots', price: '€49' } });
    const got = await backend.waitFor(5);
    expect(got.map((r) => r.json.type)).toEqual(['conversation.started', 'postback', 'handoff.requested', 'rating.submitted', 'context.updated']);
    expect(got[4]!.json.data).toMatchObject({ context: { product: { title: 'Red boots' } } });
  });
});
