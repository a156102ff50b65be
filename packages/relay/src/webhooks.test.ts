import { afterEach, describe, expect, test } from 'vitest';
import { verifyWebhook } from '@parley/backend';
import { LIMITS } from '@parley/protocol';
import { DEFAULT_RETRY_SCHEDULE_MS } from './config.js';
import { TestClient, WEBHOOK_SECRET, eventually, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';
import { jitter } from './webhook-worker.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('webhook retries', () => {
  test('a backend that fails three times then accepts gets the event once more, with the same webhook-id every time', async () => {
    let failuresLeft = 3;
    const backend = await startBackend((rec) => {
      if (rec.json.type !== 'message.created') return { status: 204 };
      return failuresLeft-- > 0 ? { status: 500 } : { status: 200 };
    });
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { webhooks: { retryScheduleMs: [20, 20, 20, 20, 20] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    await c.take('ack');

    await backend.waitFor((r) => r.filter((x) => x.json.type === 'message.created').length >= 4);
    const attempts = backend.received.filter((r) => r.json.type === 'message.created');
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
    expect(attempts[0]!.headers['webhook-id']).toBe(attempts[0]!.json.id);
    for (const a of attempts) expect((await verifyWebhook(WEBHOOK_SECRET, a.headers as Record<string, string>, a.raw, {})).ok).toBe(true);
    const dead = await relay.api('GET', '/v1/dead-letters');
    expect(dead.json.items).toEqual([]);
    const metrics = await (await fetch(`${relay.base}/metrics`)).text();
    expect(metrics).toMatch(/parley_webhook_deliveries_total\{result="http_error"\} 3/);
    expect(metrics).toMatch(/parley_webhook_retries_total 3/);
    // Nothing is left to deliver, and nothing more arrived: the event was accepted once.
    await eventually(async () => (await relay.app.parley.engine.nextWebhookAt()) === null);
    expect(backend.received.filter((r) => r.json.type === 'message.created')).toHaveLength(4);
    expect(await (await fetch(`${relay.base}/metrics`)).text()).toMatch(/parley_webhook_deliveries_total\{result="delivered"\} 2/);
  });

  test('a backend down past the schedule leaves the event in the dead-letter list, counted in /metrics', async () => {
    const backend = await startBackend(() => ({ status: 503 }));
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { webhooks: { retryScheduleMs: [10, 10] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    const welcome = await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'anyone?' } });
    await c.take('ack');

    const dead = await eventually(async () => {
      const r = await relay.api('GET', '/v1/dead-letters');
      return r.json.items.length === 2 ? r.json.items : null;
    });
    expect(dead.map((d: { event: { type: string } }) => d.event.type).sort()).toEqual(['conversation.started', 'message.created']);
    const msg = dead.find((d: { event: { type: string } }) => d.event.type === 'message.created');
    expect(msg).toMatchObject({ attempts: 3, event: { conversationId: welcome.conversationId }, lastError: { code: 'WEBHOOK_FAILED', status: 503 } });
    expect(backend.received.filter((r) => r.json.type === 'message.created')).toHaveLength(3);
    const metrics = await (await fetch(`${relay.base}/metrics`)).text();
    expect(metrics).toMatch(/parley_webhook_dead_letters_total 2/);
    // Another site's secret sees none of them.
    const other = await relay.api('GET', '/v1/dead-letters', undefined, 'api_secret_two_0123456789');
    expect(other.json.items).toEqual([]);
  });

  test('a backend that does not answer in time is retried as a timeout', async () => {
    let calls = 0;
    const backend = await startBackend(() => (calls++ === 0 ? { status: 200, delayMs: 300 } : { status: 200 }));
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { webhooks: { timeoutMs: 50, retryScheduleMs: [10] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    await eventually(async () => /parley_webhook_deliveries_total\{result="timeout"\} 1/.test(await (await fetch(`${relay.base}/metrics`)).text()));
    await eventually(async () => /result="delivered"\} 2/.test(await (await fetch(`${relay.base}/metrics`)).text()));
    const started = backend.received.filter((r) => r.json.type === 'conversation.started');
    expect(started).toHaveLength(2);
    expect(started[0]!.headers['webhook-id']).toBe(started[1]!.headers['webhook-id']);
  });

  test('deliveries reuse one keep-alive connection, whatever the backend answers carry', async () => {
    let started = 0;
    const backend = await startBackend((rec) => {
      if (rec.json.type === 'conversation.started') {
        return started++ === 0 ? { status: 500, raw: '<html>Internal Server Error</html>', contentType: 'text/html' } : { status: 200, raw: 'ok' };
      }
      return messageOf(rec.json)?.id === 'm1' ? { status: 200, body: { messages: [] } } : { status: 204 };
    });
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { webhooks: { retryScheduleMs: [0] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'one' } });
    await backend.waitFor(3);
    c.send({ t: 'send', id: 'm2', body: { type: 'text', text: 'two' } });
    await backend.waitFor(4);
    await eventually(async () => /result="delivered"\} 3/.test(await (await fetch(`${relay.base}/metrics`)).text()));
    expect(backend.received.map((r) => r.json.type).sort()).toEqual(['conversation.started', 'conversation.started', 'message.created', 'message.created']);
    expect(backend.connections()).toBe(1);
  });

  test('a 2xx reply over 64 KiB without a content-length is ignored: delivered once, nothing appended', async () => {
    // Valid JSON and a valid reply, padded past the limit with whitespace.
    const huge = `{"messages":[{"id":"padded","body":{"type":"text","text":"padded"}}]${' '.repeat(LIMITS.maxBodyBytes)}}`;
    const backend = await startBackend((rec) => (rec.json.type === 'message.created' ? { status: 200, raw: huge, contentType: 'application/json' } : { status: 204 }));
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { webhooks: { retryScheduleMs: [0] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    const welcome = await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    await eventually(async () => /result="delivered"\} 2/.test(await (await fetch(`${relay.base}/metrics`)).text()));
    expect(backend.received).toHaveLength(2);
    const history = await relay.api('GET', `/v1/conversations/${welcome.conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string }) => e.id)).toEqual(['m1']);
  });

  test('the default schedule starts at 5 s and spans about 24 h; jitter is full and centred on each step', () => {
    expect(DEFAULT_RETRY_SCHEDULE_MS.slice(0, 6)).toEqual([5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000]);
    const total = DEFAULT_RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(23 * 3600_000);
    expect(total).toBeLessThanOrEqual(24 * 3600_000);
    expect(jitter(1000, () => 0)).toBe(0);
    expect(jitter(1000, () => 0.5)).toBe(1000);
    expect(jitter(1000, () => 0.999)).toBeLessThan(2000);
  });
});
