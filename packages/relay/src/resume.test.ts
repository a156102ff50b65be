import { afterEach, describe, expect, test } from 'vitest';
import { TestClient, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('resume', () => {
  test('after a drop at seq N, reconnecting with lastSeq N replays exactly the later entries, once, in order', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url));
    cleanups.push(relay.close);

    const first = await TestClient.open(relay.wsUrl);
    const welcome = await first.hello();
    for (const id of ['a', 'b', 'c']) {
      first.send({ t: 'send', id, body: { type: 'text', text: `visitor ${id}` } });
      await first.take((f) => f.t === 'ack' && f.id === id);
    }
    await first.take((f) => f.t === 'msg' && f.seq === 3);
    first.close();
    await first.waitClosed();

    // While the visitor is away: replies, a stored event, and a transient one (not replayed).
    await relay.api('POST', `/v1/conversations/${welcome.conversationId}/messages`, { id: 'r1', body: { type: 'text', text: 'reply one' } });
    await relay.api('POST', `/v1/conversations/${welcome.conversationId}/events`, { id: 'q1', event: { type: 'queue', position: 2 } });
    await relay.api('POST', `/v1/conversations/${welcome.conversationId}/events`, { event: { type: 'typing', on: true } });
    await relay.api('POST', `/v1/conversations/${welcome.conversationId}/messages`, { id: 'r2', body: { type: 'text', text: 'reply two' } });

    const again = await TestClient.open(relay.wsUrl);
    const resumed = await again.hello({ token: welcome.token, lastSeq: 3 });
    expect(resumed).toMatchObject({ conversationId: welcome.conversationId, visitorId: welcome.visitorId, lastSeq: 6 });
    await again.take((f) => f.t === 'msg' && f.id === 'r2');
    // A live message after the replay arrives once, after it.
    await relay.api('POST', `/v1/conversations/${welcome.conversationId}/messages`, { id: 'r3', body: { type: 'text', text: 'live' } });
    await again.take((f) => f.t === 'msg' && f.id === 'r3');
    again.send({ t: 'ping' });
    await again.take('pong');
    const replayed = again.frames.filter((f) => f.t === 'msg' || f.t === 'event').map((f) => [f.t, (f as { seq?: number }).seq, f.t === 'msg' ? f.id : f.event.type]);
    expect(replayed).toEqual([
      ['msg', 4, 'r1'],
      ['event', 5, 'queue'],
      ['msg', 6, 'r2'],
      ['msg', 7, 'r3'],
    ]);
    expect(again.frames[0]!.t).toBe('welcome');
    again.close();
  });

  test('a replay of 450 entries arrives whole, once each, in order, with live entries after it', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { limits: { restRateLimit: { perSecond: 10_000, burst: 10_000 } } });
    cleanups.push(relay.close);
    const first = await TestClient.open(relay.wsUrl);
    const welcome = await first.hello();
    first.send({ t: 'send', id: 'v0', body: { type: 'text', text: 'hi' } });
    await first.take('ack');
    first.close();
    for (let i = 1; i < 450; i++) {
      const r = await relay.api('POST', `/v1/conversations/${welcome.conversationId}/messages`, { id: `r${i}`, body: { type: 'text', text: `reply ${i}` } });
      expect(r.status).toBe(201);
    }
    const again = await TestClient.open(relay.wsUrl);
    cleanups.push(() => again.close());
    expect((await again.hello({ token: welcome.token, lastSeq: 0 })).lastSeq).toBe(450);
    await again.take((f) => f.t === 'msg' && f.seq === 450, 10_000);
    expect(again.msgs().map((m) => m.seq)).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
    await relay.api('POST', `/v1/conversations/${welcome.conversationId}/messages`, { id: 'live', body: { type: 'text', text: 'live' } });
    await again.take((f) => f.t === 'msg' && f.id === 'live', 10_000);
    expect(again.msgs().map((m) => m.seq)).toEqual(Array.from({ length: 451 }, (_, i) => i + 1));
  });

  test('a send resent with the same id is acked with the same seq and forwarded only once', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url));
    cleanups.push(relay.close);

    const c = await TestClient.open(relay.wsUrl);
    const welcome = await c.hello();
    c.send({ t: 'send', id: 'dup', body: { type: 'text', text: 'once' } });
    const ack1 = await c.take('ack');
    c.close();
    await c.waitClosed();

    // The ack was lost with the connection; the client resends from its outbox.
    const d = await TestClient.open(relay.wsUrl);
    await d.hello({ token: welcome.token, lastSeq: 0 });
    d.send({ t: 'send', id: 'dup', body: { type: 'text', text: 'once' } });
    const ack2 = await d.take('ack');
    expect(ack2.seq).toBe(ack1.seq);
    d.send({ t: 'send', id: 'next', body: { type: 'text', text: 'second' } });
    expect((await d.take('ack')).seq).toBe(ack1.seq + 1);

    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'next'));
    const created = backend.received.filter((r) => r.json.type === 'message.created').map((r) => messageOf(r.json)?.id);
    expect(created).toEqual(['dup', 'next']);
    // The replay carried the message once, and the resend did not push it again.
    expect(d.msgs().filter((m) => m.id === 'dup')).toHaveLength(1);
    const history = await relay.api('GET', `/v1/conversations/${welcome.conversationId}/messages?after=0`);
    expect(history.json.entries.map((e: { id: string }) => e.id)).toEqual(['dup', 'next']);
    d.close();
  });

  test('hello with fresh starts a new conversation for the same visitor', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url));
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    const w1 = await c.hello();
    c.send({ t: 'send', id: 'first', body: { type: 'text', text: 'hi' } });
    await c.take('ack');
    await relay.api('POST', `/v1/conversations/${w1.conversationId}/events`, { event: { type: 'closed' } });
    await c.take((f) => f.t === 'event' && f.event.type === 'closed');
    c.send({ t: 'send', id: 'late', body: { type: 'text', text: 'hello?' } });
    expect(await c.take('error')).toMatchObject({ code: 'CONVERSATION_CLOSED', id: 'late' });
    c.close();
    const d = await TestClient.open(relay.wsUrl);
    const w2 = await d.hello({ token: w1.token, fresh: true });
    expect(w2.visitorId).toBe(w1.visitorId);
    expect(w2.conversationId).not.toBe(w1.conversationId);
    expect(w2.lastSeq).toBe(0);
    d.close();
  });
});
