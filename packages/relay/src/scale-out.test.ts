// Several relays on one Redis, as behind a load balancer with no sticky sessions: any relay
// serves any widget and any REST call, webhooks go out once each in order whichever relay
// delivers them, limits hold across relays, and a Redis outage loses nothing.
import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE } from '@parley/protocol';
import type { RelayConfigInput } from './config.js';
import { TestClient, eventually, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';
import { REDIS_URL, deletePrefix, hasRedisServer, newPrefix, sharedRedisAvailable, startOwnRedis } from './test-support/redis.js';

const available = await sharedRedisAvailable('the scale-out tests');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const text = (t: string) => ({ type: 'text', text: t });

type Relay = Awaited<ReturnType<typeof startRelay>>;

/** A recording backend and `n` relays on one Redis prefix. */
async function cluster(n: number, over: Partial<RelayConfigInput> = {}, url = REDIS_URL) {
  const backend = await startBackend();
  cleanups.push(backend.close);
  const prefix = newPrefix();
  cleanups.push(() => deletePrefix(url, prefix));
  const relays: Relay[] = [];
  for (let i = 0; i < n; i++) {
    const relay = await startRelay(testConfig(backend.url, { engine: { type: 'redis', url, prefix }, ...over }), { webhooks: { pollMs: 20, timeoutMs: 2000, retryScheduleMs: [50, 50, 50, 50] } });
    cleanups.push(relay.close);
    relays.push(relay);
  }
  const open = async (relay: Relay) => {
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    return c;
  };
  return { backend, relays, open };
}

describe.skipIf(!available)('scale-out on Redis', () => {
  test('a widget on relay A gets replies posted to relay B, resumes on relay B, and webhooks go out once each, in order', async () => {
    const { backend, relays, open } = await cluster(2);
    const [a, b] = relays as [Relay, Relay];
    const onA = await open(a);
    const w = await onA.hello();
    for (const id of ['m1', 'm2', 'm3']) {
      onA.send({ t: 'send', id, body: text(id) });
      await onA.take((f) => f.t === 'ack' && f.id === id);
    }
    const reply = await b.api('POST', `/v1/conversations/${w.conversationId}/messages`, { id: 'r1', body: text('from relay B') });
    expect(reply.status).toBe(201);
    expect(await onA.take((f) => f.t === 'msg' && f.id === 'r1')).toMatchObject({ seq: 4 });
    onA.close();

    // The load balancer sends the reconnect to relay B.
    const onB = await open(b);
    expect((await onB.hello({ token: w.token, lastSeq: 2 })).conversationId).toBe(w.conversationId);
    await onB.take((f) => f.t === 'msg' && f.id === 'r1');
    expect(onB.msgs().map((m) => m.id)).toEqual(['m3', 'r1']);
    onB.send({ t: 'send', id: 'm4', body: text('m4') });
    expect(await onB.take('ack')).toMatchObject({ seq: 5 });

    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'm4'));
    await new Promise((r) => setTimeout(r, 200));
    expect(backend.received.map((r) => messageOf(r.json)?.id ?? r.json.type)).toEqual(['conversation.started', 'm1', 'm2', 'm3', 'm4']);
  });

  test('the per-IP new-visitor cap holds across relays: N relays do not give N times the limit', async () => {
    const { relays, open } = await cluster(2, { limits: { newVisitorsPerIpPerMinute: 4 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await open(relays[i % 2]!);
      c.send({ t: 'hello', v: 1, siteKey: 'pk_test' });
      const f = await c.take((x) => x.t === 'welcome' || x.t === 'error');
      outcomes.push(f.t === 'error' ? f.code : f.t);
    }
    expect(outcomes).toEqual(['welcome', 'welcome', 'welcome', 'welcome', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  test('the per-IP connection cap holds across relays: the 4th socket on either relay is refused, and closing one frees a slot', async () => {
    const { relays, open } = await cluster(2, { limits: { maxConnectionsPerIp: 3 } });
    const [a, b] = relays as [Relay, Relay];
    const held = [await open(a), await open(b), await open(a)];
    for (const c of held) await c.hello();
    for (const relay of [a, b]) {
      const refused = await open(relay);
      expect(await refused.take('error')).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
      expect((await refused.waitClosed()).code).toBe(CLOSE.TOO_MANY_CONNECTIONS);
    }
    held[1]!.close();
    await held[1]!.waitClosed();
    // The slot goes back once relay B has seen the close: a new socket on relay A gets it.
    // A hello sent at once waits for the slot, then is answered.
    const next = await eventually(async () => {
      const c = await open(a);
      c.send({ t: 'hello', v: 1, siteKey: 'pk_test' });
      const f = await c.take((x) => x.t === 'welcome' || x.t === 'error');
      return f.t === 'welcome' ? c : null;
    });
    expect(next!.frames.map((f) => f.t)).toEqual(['welcome']);
    const refused = await open(b);
    expect(await refused.take('error')).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    for (const c of [held[0]!, held[2]!]) {
      c.send({ t: 'ping' });
      await c.take('pong');
    }
  });

  test('two devices of a verified user on two relays acting at once end up in one conversation', async () => {
    const { relays, open } = await cluster(2);
    const { IDENTITY_SECRET } = await import('./test-support/harness.js');
    const { hmacSha256Hex } = await import('@parley/protocol');
    const identity = { userId: 'user-7', signature: await hmacSha256Hex(IDENTITY_SECRET, 'user-7') };
    const laptop = await open(relays[0]!);
    const phone = await open(relays[1]!);
    await Promise.all([laptop.hello({ identity }), phone.hello({ identity })]);
    laptop.send({ t: 'send', id: 'from-laptop', body: text('laptop') });
    phone.send({ t: 'send', id: 'from-phone', body: text('phone') });
    // One of the two may be asked to reconnect (the other created the conversation first); after
    // that both are in the same conversation and see both messages.
    const settle = async (c: TestClient, relay: Relay, id: string): Promise<TestClient> => {
      const f = await c.take((x) => x.t === 'ack' && x.id === id).catch(() => null);
      if (f) return c;
      expect(c.closed?.code).toBe(CLOSE.GOING_AWAY);
      const again = await open(relay);
      await again.hello({ identity });
      again.send({ t: 'send', id, body: text(id) });
      await again.take((x) => x.t === 'ack' && x.id === id);
      return again;
    };
    const [l, p] = await Promise.all([settle(laptop, relays[0]!, 'from-laptop'), settle(phone, relays[1]!, 'from-phone')]);
    await eventually(() => l.msgs().length >= 2 && p.msgs().length >= 2);
    expect(new Set(l.msgs().map((m) => m.id))).toEqual(new Set(['from-laptop', 'from-phone']));
    expect(new Set(p.msgs().map((m) => m.id))).toEqual(new Set(['from-laptop', 'from-phone']));
  });
});

describe.skipIf(!hasRedisServer('the Redis outage test'))('a Redis outage', () => {
  test('readyz turns 503, sends get NOT_READY and are not acked, and after Redis comes back the resend is stored once', { timeout: 30_000 }, async () => {
    const redis = await startOwnRedis();
    cleanups.push(redis.stop);
    const { backend, relays, open } = await cluster(1, {}, redis.url);
    const relay = relays[0]!;
    const c = await open(relay);
    const w = await c.hello();
    c.send({ t: 'send', id: 'before', body: text('before') });
    await c.take('ack');

    await redis.kill();
    await eventually(async () => (await fetch(`${relay.base}/readyz`)).status === 503);
    c.send({ t: 'send', id: 'during', body: text('during') });
    c.send({ t: 'send', id: 'behind', body: text('behind') });
    expect(await c.take('error')).toMatchObject({ code: 'NOT_READY', id: 'during' });
    // The socket closes with a reconnect code, so 'behind' cannot be stored ahead of 'during'.
    expect((await c.waitClosed()).code).toBe(CLOSE.GOING_AWAY);
    expect(c.frames.some((f) => f.t === 'ack')).toBe(true);
    expect(c.frames.filter((f) => f.t === 'ack').map((f) => (f as { id: string }).id)).toEqual(['before']);
    const rest = await relay.api('POST', `/v1/conversations/${w.conversationId}/messages`, { id: 'r-during', body: text('reply') });
    expect(rest).toMatchObject({ status: 503, json: { error: { code: 'NOT_READY' } } });

    await redis.restart();
    await eventually(async () => (await fetch(`${relay.base}/readyz`)).status === 200, 15_000);
    // The client reconnects and resends its outbox in order; the relay stores each once.
    const again = await open(relay);
    await again.hello({ token: w.token, lastSeq: 1 });
    again.send({ t: 'send', id: 'during', body: text('during') });
    again.send({ t: 'send', id: 'behind', body: text('behind') });
    expect(await again.take((f) => f.t === 'ack' && f.id === 'during')).toMatchObject({ seq: 2 });
    expect(await again.take((f) => f.t === 'ack' && f.id === 'behind')).toMatchObject({ seq: 3 });
    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'during'), 15_000);
    const history = await relay.api('GET', `/v1/conversations/${w.conversationId}/messages`);
    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'behind'), 15_000);
    expect(history.json.entries.map((e: { id: string }) => e.id)).toEqual(['before', 'during', 'behind']);
    // At least once: an event delivered just as Redis died may come again (same webhook-id),
    // always before the next one of its conversation.
    const seen = new Set<string>();
    const delivered = backend.received.filter((r) => !seen.has(r.json.id) && seen.add(r.json.id));
    expect(delivered.map((r) => messageOf(r.json)?.id ?? r.json.type)).toEqual(['conversation.started', 'before', 'during', 'behind']);
    const order = backend.received.map((r) => r.json.id);
    expect(order.filter((id, i) => order.indexOf(id) !== i && order[i - 1] !== id)).toEqual([]);
  });

  test('while the engine is unreachable a new widget socket gets NOT_READY and a reconnect close code', { timeout: 30_000 }, async () => {
    const redis = await startOwnRedis();
    cleanups.push(redis.stop);
    const { relays, open } = await cluster(1, {}, redis.url);
    const relay = relays[0]!;
    await redis.kill();
    await eventually(async () => (await fetch(`${relay.base}/readyz`)).status === 503);
    const refused = await open(relay);
    expect(await refused.take('error')).toMatchObject({ code: 'NOT_READY' });
    expect((await refused.waitClosed()).code).toBe(CLOSE.GOING_AWAY);

    await redis.restart();
    await eventually(async () => (await fetch(`${relay.base}/readyz`)).status === 200, 15_000);
    const again = await open(relay);
    await again.hello();
  });
});
