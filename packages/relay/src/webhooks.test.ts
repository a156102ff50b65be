import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { verifyWebhook, verifyWebhooks } from '@parley/backend';
import { LIMITS, WebhookBatch, WebhookEvent, check, signWebhook } from '@parley/protocol';
import { startRecordingServer, type Answer } from '../../../test/support/recording-server.js';
import { DEFAULT_RETRY_SCHEDULE_MS } from './config.js';
import { TestClient, WEBHOOK_SECRET, WEBHOOK_SECRET_2, eventually, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';
import { signWebhookSync } from './webhook-signer.js';
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

/** A backend on port 0 that answers with `handle` (after reading the body); counts requests by path. */
async function rawBackend(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(req.url ?? '');
      handle(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  cleanups.push(close);
  return { url: `http://127.0.0.1:${port}/webhooks/parley`, port, paths, close };
}

/** Log lines written by a relay given `stream`. */
function captureLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

async function metricsOf(relay: { base: string }): Promise<string> {
  return (await fetch(`${relay.base}/metrics`)).text();
}

describe('webhook delivery', () => {
  test("the relay's signature is the protocol's signWebhook and @parley/backend verifies it, with non-ASCII bodies too", async () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const event = {
      id: 'evt_sig_1',
      type: 'conversation.started',
      createdAt: timestamp * 1000,
      siteKey: 'pk_test',
      conversationId: 'c_sig_1',
      visitor: { id: 'v_sig_1' },
      data: { context: { attrs: { note: 'héllo ✓ — 日本' } } },
    };
    const raw = JSON.stringify(event);
    const signature = signWebhookSync(WEBHOOK_SECRET, event.id, timestamp, Buffer.from(raw));
    expect(signature).toBe(await signWebhook(WEBHOOK_SECRET, event.id, timestamp, raw));
    const headers = { 'webhook-id': event.id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
    expect(await verifyWebhook(WEBHOOK_SECRET, headers, raw)).toMatchObject({ ok: true, event: { id: 'evt_sig_1' } });
    expect((await verifyWebhook(WEBHOOK_SECRET_2, headers, raw)).ok).toBe(false);
    // A second site's secret signs differently (each secret's key is kept apart).
    expect(signWebhookSync(WEBHOOK_SECRET_2, event.id, timestamp, raw)).not.toBe(signature);
  });

  test('a redirect is not followed: a 3xx answer is a failed attempt, dead-lettered with its status', async () => {
    const backend = await rawBackend((_req, res) => res.writeHead(307, { location: '/elsewhere' }).end());
    const relay = await startRelay(testConfig(backend.url), { webhooks: { retryScheduleMs: [10] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    const dead = await eventually(async () => {
      const r = await relay.api('GET', '/v1/dead-letters');
      return r.json.items.length === 2 ? r.json.items : null;
    });
    for (const d of dead) expect(d).toMatchObject({ attempts: 2, lastError: { code: 'WEBHOOK_FAILED', status: 307 } });
    expect(backend.paths.filter((p) => p !== '/webhooks/parley')).toEqual([]);
    expect(await metricsOf(relay)).toMatch(/parley_webhook_deliveries_total\{result="http_error"\} 4/);
  });

  test('an unreachable backend is a network error that names its cause', async () => {
    const gone = await rawBackend(() => {});
    await gone.close();
    const relay = await startRelay(testConfig(gone.url), { webhooks: { retryScheduleMs: [] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    const dead = await eventually(async () => {
      const r = await relay.api('GET', '/v1/dead-letters');
      return r.json.items.length === 2 ? r.json.items : null;
    });
    for (const d of dead) expect(d.lastError).toEqual({ code: 'WEBHOOK_FAILED', message: 'Network error (ECONNREFUSED).' });
    expect(await metricsOf(relay)).toMatch(/parley_webhook_deliveries_total\{result="network_error"\} 2/);
  });

  test('a 2xx reply that is not JSON, not a reply, or declared past the size cap is ignored with WEBHOOK_BAD_REPLY: delivered once, nothing appended', async () => {
    const answers: Record<string, (res: ServerResponse) => void> = {
      m1: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"messages": [ not json'),
      m2: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"messages":"not a list"}'),
      m3: (res) => {
        // The declared length alone rules the reply out: the relay reads none of it.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(LIMITS.maxBodyBytes + 1) });
        res.write('{"messages":[{"id":"never","body":{"type":"text","text":"never"}}]');
      },
    };
    const backend = await rawBackend((_req, res, raw) => {
      const event = JSON.parse(raw) as { type: string; data: { message?: { id: string } } };
      const answer = event.type === 'message.created' ? answers[event.data.message!.id] : undefined;
      if (answer) answer(res);
      else res.writeHead(204).end();
    });
    const log = captureLog();
    const relay = await startRelay(testConfig(backend.url), { logger: { level: 'warn', stream: log.stream }, webhooks: { retryScheduleMs: [0] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    const welcome = await c.hello();
    for (const id of ['m1', 'm2', 'm3']) c.send({ t: 'send', id, body: { type: 'text', text: id } });
    await eventually(async () => /result="delivered"\} 4/.test(await metricsOf(relay)));
    expect(backend.paths).toHaveLength(4);
    const bad = log.lines.filter((l) => l.code === 'WEBHOOK_BAD_REPLY').map((l) => l.msg);
    expect(bad).toEqual(['webhook reply is not JSON; ignored', 'webhook reply does not match the schema; ignored', 'webhook reply over the size limit; ignored']);
    const history = await relay.api('GET', `/v1/conversations/${welcome.conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string }) => e.id)).toEqual(['m1', 'm2', 'm3']);
  });

  test('the timeout covers the whole answer: a reply body that never ends is a timeout, and the retry is delivered', async () => {
    let calls = 0;
    const backend = await rawBackend((_req, res) => {
      if (calls++ > 0) return void res.writeHead(204).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"messages":[');
    });
    const relay = await startRelay(testConfig(backend.url), { webhooks: { timeoutMs: 100, retryScheduleMs: [10] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    await eventually(async () => /result="delivered"\} 2/.test(await metricsOf(relay)));
    const metrics = await metricsOf(relay);
    expect(metrics).toMatch(/parley_webhook_deliveries_total\{result="timeout"\} 1/);
    expect(backend.paths).toHaveLength(3);
  });
});

describe('batched webhooks (webhookBatch)', () => {
  /** A backend that records every request, one event or a batch, verified with @parley/backend. */
  async function batchBackend(answer: (events: WebhookEvent[], batchId: string | undefined, index: number) => Answer) {
    const server = await startRecordingServer<{ headers: Record<string, string>; raw: string; events: WebhookEvent[]; batchId?: string }>({
      record: ({ headers, raw }) => {
        const json = JSON.parse(raw) as { type: string; id: string; events?: unknown };
        const batch = json.type === 'batch' ? check(WebhookBatch, json) : undefined;
        if (batch && !batch.ok) throw new Error(`relay sent an invalid batch: ${batch.message}`);
        const single = batch ? undefined : check(WebhookEvent, json);
        if (single && !single.ok) throw new Error(`relay sent an invalid webhook: ${single.message}`);
        const events = batch?.ok ? batch.value.events : single?.ok ? [single.value] : [];
        return { headers: headers as Record<string, string>, raw, events, ...(batch?.ok ? { batchId: batch.value.id } : {}) };
      },
      answer: (rec, i) => answer(rec.events, rec.batchId, i),
    });
    cleanups.push(server.close);
    return { url: `${server.base}/webhooks/parley`, received: server.received, waitFor: server.waitFor };
  }

  function batchConfig(url: string, webhookBatch: number) {
    const config = testConfig(url);
    config.sites = config.sites.map((site) => (site.siteKey === 'pk_test' ? { ...site, webhookBatch } : site));
    return config;
  }

  async function visitors(relayWsUrl: string, n: number): Promise<TestClient[]> {
    const out: TestClient[] = [];
    for (let i = 0; i < n; i++) {
      const c = await TestClient.open(relayWsUrl);
      cleanups.push(() => c.close());
      await c.hello();
      out.push(c);
    }
    return out;
  }

  const pongOf = (event: WebhookEvent) => {
    const message = messageOf(event);
    return event.type === 'message.created' && message?.body.type === 'text' ? { messages: [{ body: { type: 'text' as const, text: message.body.text.replace('ping', 'pong') } }] } : undefined;
  };

  test('events due at once go in one signed request, at most webhookBatch of them and one per conversation, in order; each inline reply reaches its conversation', async () => {
    const backend = await batchBackend((events, batchId, i) => {
      const replies = Object.fromEntries(events.flatMap((e) => (pongOf(e) ? [[e.id, pongOf(e)!]] : [])));
      // The first request is held, so the events of the other conversations pile up behind it.
      const delayMs = i === 0 ? 300 : 0;
      if (batchId) return { status: 200, body: { replies }, delayMs };
      const reply = replies[events[0]!.id];
      return reply ? { status: 200, body: reply, delayMs } : { status: 204, delayMs };
    });
    const relay = await startRelay(batchConfig(backend.url, 4), { webhooks: { concurrency: 1 } });
    cleanups.push(relay.close);
    const clients = await visitors(relay.wsUrl, 6);
    for (const [i, c] of clients.entries()) {
      for (const n of [1, 2]) {
        c.send({ t: 'send', id: `m${i}_${n}`, body: { type: 'text', text: `ping ${i}.${n}` } });
        await c.take('ack');
      }
    }
    // 6 conversations: conversation.started and two messages each.
    await backend.waitFor((r) => r.reduce((n, x) => n + x.events.length, 0) >= 18);

    const batches = backend.received.filter((r) => r.batchId);
    expect(batches.length).toBeGreaterThan(0);
    expect(Math.max(...batches.map((b) => b.events.length))).toBe(4);
    for (const r of backend.received) {
      // Signed like any webhook, with the batch's id as the webhook-id, and read by verifyWebhooks.
      const verified = await verifyWebhooks(WEBHOOK_SECRET, r.headers, r.raw);
      expect(verified).toMatchObject({ ok: true, events: r.events.map((e) => ({ id: e.id })) });
      expect(r.headers['webhook-id']).toBe(r.batchId ?? r.events[0]!.id);
      // Never two events of one conversation in a request: each is settled before the next is sent.
      expect(new Set(r.events.map((e) => e.conversationId)).size).toBe(r.events.length);
      if (r.batchId) expect((await verifyWebhook(WEBHOOK_SECRET, r.headers, r.raw)).ok).toBe(false);
    }
    const all = backend.received.flatMap((r) => r.events);
    expect(all).toHaveLength(18);
    expect(new Set(all.map((e) => e.id)).size).toBe(18);
    for (const conversationId of new Set(all.map((e) => e.conversationId))) {
      const mine = all.filter((e) => e.conversationId === conversationId);
      expect(mine.map((e) => e.type)).toEqual(['conversation.started', 'message.created', 'message.created']);
      expect(mine.map((e) => messageOf(e)?.seq).slice(1)).toEqual([...mine.map((e) => messageOf(e)?.seq).slice(1)].sort((a, b) => a! - b!));
    }
    // /metrics counts the batched requests and the events they carried.
    const metrics = await (await fetch(`${relay.base}/metrics`)).text();
    expect(metrics).toContain(`parley_webhook_batch_events_count ${batches.length}\n`);
    expect(metrics).toContain(`parley_webhook_batch_events_sum ${batches.reduce((n, b) => n + b.events.length, 0)}\n`);
    // Every visitor sees the bot's answers to their own pings, after them and in order, and no one else's.
    for (const [i, c] of clients.entries()) {
      await c.take((f) => f.t === 'msg' && f.body.type === 'text' && f.body.text === `pong ${i}.2`);
      const texts = c.frames.flatMap((f) => (f.t === 'msg' && f.body.type === 'text' ? [f.body.text] : []));
      expect(texts.filter((t) => t.startsWith('pong'))).toEqual([`pong ${i}.1`, `pong ${i}.2`]);
      for (const n of [1, 2]) expect(texts.indexOf(`pong ${i}.${n}`)).toBeGreaterThan(texts.indexOf(`ping ${i}.${n}`));
    }
  });

  test('with deliveries in flight, events queued within batchWaitMs share a request; with 0, each goes at once on its own', async () => {
    for (const batchWaitMs of [300, 0]) {
      const backend = await batchBackend((_events, batchId) => (batchId ? { status: 200, body: { replies: {} }, delayMs: 100 } : { status: 204, delayMs: 100 }));
      const relay = await startRelay(batchConfig(backend.url, 20), { webhooks: { batchWaitMs } });
      cleanups.push(relay.close);
      const clients = await visitors(relay.wsUrl, 5);
      // The first conversation's events go at once, alone: nothing was in flight.
      clients[0]!.send({ t: 'send', id: 'first', body: { type: 'text', text: 'first' } });
      await clients[0]!.take('ack');
      await backend.waitFor(1);
      for (const [i, c] of clients.slice(1).entries()) {
        c.send({ t: 'send', id: `m${i}`, body: { type: 'text', text: `hello ${i}` } });
        await c.take('ack');
      }
      await backend.waitFor((r) => r.reduce((n, x) => n + x.events.length, 0) >= 10);
      const sizes = backend.received.map((r) => r.events.length);
      if (batchWaitMs > 0) {
        // The other four conversations' first events waited for each other and came together.
        expect(sizes[0]).toBe(1);
        expect(Math.max(...sizes)).toBeGreaterThanOrEqual(4);
        expect(sizes.length).toBeLessThanOrEqual(4);
      } else {
        expect(sizes.slice(0, 5)).toEqual([1, 1, 1, 1, 1]);
      }
      await relay.close();
    }
  });

  test('a failed batch fails each of its events: each is retried and delivered once accepted, none lost, order kept', async () => {
    let refused: string | undefined;
    const backend = await batchBackend((_events, batchId, i) => {
      if (i === 0) return { status: 204, delayMs: 200 };
      if (batchId && (refused ??= batchId) === batchId) return { status: 503 };
      return { status: 204 };
    });
    const relay = await startRelay(batchConfig(backend.url, 10), { webhooks: { concurrency: 1, retryScheduleMs: [20, 20, 20] } });
    cleanups.push(relay.close);
    const clients = await visitors(relay.wsUrl, 4);
    for (const [i, c] of clients.entries()) {
      c.send({ t: 'send', id: `m${i}`, body: { type: 'text', text: `hello ${i}` } });
      await c.take('ack');
    }
    await backend.waitFor((r) => r.filter((x) => x.batchId !== refused).reduce((n, x) => n + x.events.length, 0) >= 8);
    const failedBatch = backend.received.find((r) => r.batchId === refused);
    expect(failedBatch?.events.length).toBeGreaterThan(1);
    // What was accepted: every event exactly once, each conversation's in order, the refused ones again.
    const accepted = backend.received.filter((r) => r !== failedBatch).flatMap((r) => r.events);
    expect(accepted).toHaveLength(8);
    expect(new Set(accepted.map((e) => e.id)).size).toBe(8);
    for (const e of failedBatch!.events) expect(accepted.map((a) => a.id)).toContain(e.id);
    for (const conversationId of new Set(accepted.map((e) => e.conversationId))) {
      expect(accepted.filter((e) => e.conversationId === conversationId).map((e) => e.type)).toEqual(['conversation.started', 'message.created']);
    }
    await eventually(async () => (await relay.app.parley.engine.nextWebhookAt()) === null);
    expect((await relay.api('GET', '/v1/dead-letters')).json.items).toEqual([]);
    expect(await (await fetch(`${relay.base}/metrics`)).text()).toMatch(new RegExp(`parley_webhook_retries_total ${failedBatch!.events.length}\\b`));
  });
});
