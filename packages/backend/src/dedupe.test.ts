import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { signWebhook, type WebhookEvent } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDedupe, memoryDedupeStore, type DedupeState, type DedupeStore } from './dedupe.js';
import { verifyWebhook } from './verify-webhook.js';

describe('createDedupe with the memory store', () => {
  test('a repeated id is a duplicate and its handler does not run again', async () => {
    const dedupe = createDedupe();
    let runs = 0;
    expect(await dedupe.once('evt_1', () => ++runs)).toEqual({ status: 'handled', value: 1 });
    expect(await dedupe.once('evt_1', () => ++runs)).toEqual({ status: 'duplicate' });
    expect(await dedupe.once('evt_2', () => ++runs)).toEqual({ status: 'handled', value: 2 });
    expect(runs).toBe(2);
  });

  test('a delivery that arrives while the first is still being handled is busy, not a duplicate', async () => {
    const dedupe = createDedupe();
    let release!: () => void;
    const first = dedupe.once('evt_1', () => new Promise<string>((resolve) => (release = () => resolve('done'))));
    expect(await dedupe.once('evt_1', () => 'again')).toEqual({ status: 'busy' });
    release();
    expect(await first).toEqual({ status: 'handled', value: 'done' });
    expect(await dedupe.once('evt_1', () => 'again')).toEqual({ status: 'duplicate' });
  });

  test('a handler that throws releases the id, so the redelivery runs it again', async () => {
    const dedupe = createDedupe();
    await expect(dedupe.once('evt_1', () => Promise.reject(new Error('backend down')))).rejects.toThrow('backend down');
    expect(await dedupe.once('evt_1', () => 'second try')).toEqual({ status: 'handled', value: 'second try' });
  });

  test('ids are forgotten after the TTL, and a claim lapses after its lease', async () => {
    let now = 1_000;
    const dedupe = createDedupe({ store: memoryDedupeStore({ now: () => now }), ttlMs: 10_000, leaseMs: 500 });
    await dedupe.once('evt_1', () => 1);
    now += 9_999;
    expect((await dedupe.once('evt_1', () => 2)).status).toBe('duplicate');
    now += 2;
    expect(await dedupe.once('evt_1', () => 3)).toEqual({ status: 'handled', value: 3 });

    // A handler that hangs (its process died) holds its id only for the lease.
    void dedupe.once('evt_2', () => new Promise(() => {}));
    expect((await dedupe.once('evt_2', () => 'x')).status).toBe('busy');
    now += 501;
    expect(await dedupe.once('evt_2', () => 'x')).toEqual({ status: 'handled', value: 'x' });
  });

  test('the memory store keeps at most maxKeys ids, forgetting the oldest first', async () => {
    const dedupe = createDedupe({ store: memoryDedupeStore({ maxKeys: 3 }) });
    for (const id of ['a', 'b', 'c', 'd']) await dedupe.once(id, () => id);
    expect((await dedupe.once('a', () => 'a')).status).toBe('handled');
    expect((await dedupe.once('d', () => 'd')).status).toBe('duplicate');
  });
});

describe('createDedupe behind a real webhook endpoint', () => {
  const secret = 'whsec_' + Buffer.from('parley-dedupe-test-secret-0123456').toString('base64');
  const handled: string[] = [];
  const dedupe = createDedupe();
  let server: Server;
  let url: string;

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    });

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const body = await readBody(req);
      const verified = await verifyWebhook(secret, req.headers, body);
      if (!verified.ok) return res.writeHead(verified.status).end();
      const outcome = await dedupe.once(verified.event.id, () => handled.push(verified.event.id));
      res.writeHead(outcome.status === 'busy' ? 409 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ outcome: outcome.status }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('a retried delivery (same webhook-id, fresh timestamp and signature) is answered 2xx and handled once', async () => {
    const event: WebhookEvent = {
      id: 'evt_retried',
      type: 'message.created',
      createdAt: Date.now(),
      siteKey: 'pk_demo',
      conversationId: 'c_1',
      visitor: { id: 'v_1' },
      data: { message: { seq: 1, id: 'm_1', ts: Date.now(), from: { role: 'visitor' }, body: { type: 'text', text: 'Hi' } } },
    };
    const body = JSON.stringify(event);
    const deliver = async (timestamp: number) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': event.id, 'webhook-timestamp': String(timestamp), 'webhook-signature': await signWebhook(secret, event.id, timestamp, body) },
        body,
      });
      return { status: res.status, outcome: ((await res.json()) as { outcome: string }).outcome };
    };
    const t = Math.floor(Date.now() / 1000);
    expect(await deliver(t)).toEqual({ status: 200, outcome: 'handled' });
    expect(await deliver(t + 5)).toEqual({ status: 200, outcome: 'duplicate' });
    expect(handled).toEqual(['evt_retried']);
  });
});

/** The Redis store docs/backend-api.md describes, as a merchant would write it with ioredis. */
function redisDedupeStore(redis: Redis): DedupeStore {
  return {
    async begin(key, leaseMs) {
      if ((await redis.set(key, 'processing', 'PX', leaseMs, 'NX')) === 'OK') return 'new';
      return ((await redis.get(key)) as DedupeState | null) ?? 'new';
    },
    async finish(key, ttlMs) {
      await redis.set(key, 'done', 'PX', ttlMs);
    },
    async abandon(key) {
      await redis.del(key);
    },
  };
}

describe('createDedupe with the documented Redis store', () => {
  const url = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `parley-test:${randomBytes(6).toString('hex')}:`;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  test('two backend processes sharing one Redis handle an event once', async () => {
    // Two stores on two connections stand for two processes of one backend.
    const other = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      const a = createDedupe({ store: redisDedupeStore(redis), prefix });
      const b = createDedupe({ store: redisDedupeStore(other), prefix });
      let runs = 0;
      const slow = () => new Promise<number>((resolve) => setTimeout(() => resolve(++runs), 50));
      const outcomes = await Promise.all([a.once('evt_shared', slow), b.once('evt_shared', slow)]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['busy', 'handled']);
      expect((await b.once('evt_shared', () => ++runs)).status).toBe('duplicate');
      expect(runs).toBe(1);
      expect(await redis.pttl(`${prefix}evt_shared`)).toBeGreaterThan(47 * 3600_000);
    } finally {
      other.disconnect();
    }
  });
});
