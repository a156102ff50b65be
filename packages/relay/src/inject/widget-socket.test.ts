// The widget socket's logic at the in-memory level (`injectWS`): the handshake, frame validation,
// acks, limits and timers, as the client observes them (frames received, close codes).
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE, LIMITS, PROTOCOL_VERSION, hmacSha256Hex } from '@parley/protocol';
import { API_SECRET_2, IDENTITY_SECRET, ORIGIN } from '../test-support/harness.js';
import { injectRelay, type InjectRelayOptions, type InjectedSocket } from '../test-support/inject.js';
import { signVisitorToken } from '../visitor-token.js';

const relays: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

async function setup(options: InjectRelayOptions = {}) {
  const relay = await injectRelay(options);
  relays.push(relay);
  return relay;
}

const text = (t: string) => ({ type: 'text', text: t });

/** The error frame and close code a refused hello gets. */
async function refused(c: InjectedSocket, hello: Record<string, unknown>) {
  c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', ...hello });
  const { code } = await c.waitClosed();
  return { frames: c.kinds(), close: code };
}

/** The socket is still served: a ping is answered. */
async function stillServed(c: InjectedSocket) {
  const before = c.frames.length;
  c.send({ t: 'ping' });
  await c.take((f) => f.t === 'pong' && c.frames.indexOf(f) >= before);
  expect(c.closed).toBeUndefined();
}

describe('hello', () => {
  test("a hello is welcomed with the site's greeting, name, availability, limits and a token; nothing is stored", async () => {
    const relay = await setup();
    const c = await relay.socket();
    const welcome = await c.hello();
    expect(welcome).toEqual({
      t: 'welcome',
      v: PROTOCOL_VERSION,
      conversationId: expect.stringMatching(/^c_/),
      visitorId: expect.stringMatching(/^v_/),
      token: expect.any(String),
      lastSeq: 0,
      greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
      site: { name: 'Test Shop' },
      online: true,
      limits: { maxFrameBytes: LIMITS.maxFrameBytes, maxTextLength: LIMITS.maxTextLength, maxQuickReplies: LIMITS.maxQuickReplies },
    });
    expect((await relay.api('GET', '/v1/conversations')).json).toEqual({ items: [], nextCursor: null });
    expect((await relay.api('GET', `/v1/conversations/${welcome.conversationId}/messages`)).status).toBe(404);
  });

  test.each([
    ['an unknown site key', ORIGIN, { siteKey: 'pk_nope' }, 'BAD_SITE_KEY', CLOSE.BAD_SITE_KEY],
    ['an unsupported protocol version', ORIGIN, { v: PROTOCOL_VERSION + 1 }, 'UNSUPPORTED_VERSION', CLOSE.UNSUPPORTED_VERSION],
    ['an Origin not on the allow-list', 'https://evil.example', {}, 'ORIGIN_REFUSED', CLOSE.ORIGIN_REFUSED],
    ['no Origin header', null, {}, 'ORIGIN_REFUSED', CLOSE.ORIGIN_REFUSED],
    ['no Origin header, on a site that allows any origin', null, { siteKey: 'pk_other' }, 'ORIGIN_REFUSED', CLOSE.ORIGIN_REFUSED],
    ['a token that is not one', ORIGIN, { token: 'garbage' }, 'TOKEN_INVALID', CLOSE.TOKEN_INVALID],
  ] as const)('%s gets one error frame and its close code', async (_name, origin, hello, code, close) => {
    const relay = await setup();
    expect(await refused(await relay.socket(origin), hello)).toEqual({ frames: [code], close });
  });

  test('a site that allows any origin welcomes every Origin; no Origin only on a site that serves native apps (allowNoOrigin)', async () => {
    const relay = await setup({ site: { allowNoOrigin: true } });
    expect((await (await relay.socket('https://anything.example')).hello({ siteKey: 'pk_other' })).site).toEqual({ name: 'Other Shop' });
    expect((await (await relay.socket(null)).hello()).site).toEqual({ name: 'Test Shop' });
    expect(await refused(await relay.socket('https://evil.example'), {})).toEqual({ frames: ['ORIGIN_REFUSED'], close: CLOSE.ORIGIN_REFUSED });
    expect(await refused(await relay.socket(null), { siteKey: 'pk_other' })).toEqual({ frames: ['ORIGIN_REFUSED'], close: CLOSE.ORIGIN_REFUSED });
  });

  test("a token signed with another secret, another site's token, or a token bent to another conversation gets TOKEN_INVALID", async () => {
    const relay = await setup();
    const mine = await (await relay.socket()).hello();
    const neighbour = await (await relay.socket()).hello();
    const theirs = await (await relay.socket()).hello({ siteKey: 'pk_other' });
    // Still valid where it belongs.
    expect((await (await relay.socket()).hello({ siteKey: 'pk_other', token: theirs.token })).visitorId).toBe(theirs.visitorId);
    const forged = signVisitorToken('not-the-relay-secret-0123456789abcdef', { siteKey: 'pk_test', visitorId: mine.visitorId, conversationId: mine.conversationId }, { now: () => relay.clock.now });
    // My token with my neighbour's conversation id spliced in, keeping my signature.
    const [v, payload, sig] = mine.token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const bent = `${v}.${Buffer.from(JSON.stringify({ ...claims, c: neighbour.conversationId })).toString('base64url')}.${sig}`;
    for (const token of [forged, theirs.token, bent]) {
      expect(await refused(await relay.socket(), { token })).toEqual({ frames: ['TOKEN_INVALID'], close: CLOSE.TOKEN_INVALID });
    }
    expect((await (await relay.socket()).hello({ token: mine.token })).conversationId).toBe(mine.conversationId);
  });

  test('a token whose visitor the backend revoked is refused with TOKEN_INVALID; other visitors are served', async () => {
    const relay = await setup();
    const a = await (await relay.socket()).hello();
    const b = await (await relay.socket()).hello();
    relay.clock.advance(1000);
    expect(await relay.api('POST', `/v1/visitors/${a.visitorId}/revoke`)).toMatchObject({ status: 200, json: { visitorId: a.visitorId, revokedAt: relay.clock.now } });
    expect(await refused(await relay.socket(), { token: a.token })).toEqual({ frames: ['TOKEN_INVALID'], close: CLOSE.TOKEN_INVALID });
    expect((await (await relay.socket()).hello({ token: b.token })).visitorId).toBe(b.visitorId);
  });

  test('an identity signature is verified: a good one marks the visitor verified; a wrong or upper-case one drops the identity, welcomes the visitor anonymously and sends IDENTITY_INVALID', async () => {
    const relay = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-42');
    expect((await (await relay.socket()).hello({ identity: { userId: 'user-42', signature } })).identity).toEqual({ userId: 'user-42', verified: true });
    expect((await (await relay.socket()).hello({ identity: { userId: 'user-42' } })).identity).toEqual({ userId: 'user-42', verified: false });
    const wrong = await hmacSha256Hex('some-other-secret-0123456789', 'user-42');
    for (const bad of [wrong, signature.toUpperCase()]) {
      const c = await relay.socket();
      const welcome = await c.hello({ identity: { userId: 'user-42', signature: bad } });
      expect(welcome.identity).toBeUndefined();
      expect(await c.take('error')).toMatchObject({ code: 'IDENTITY_INVALID' });
      await stillServed(c);
    }
  });

  test('a token issued to a signed-in user does not open their conversation once signed out', async () => {
    const relay = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-9');
    const signedIn = await (await relay.socket()).hello({ identity: { userId: 'user-9', signature } });
    const signedOut = await (await relay.socket()).hello({ token: signedIn.token });
    expect(signedOut.conversationId).not.toBe(signedIn.conversationId);
    expect(signedOut.identity).toBeUndefined();
  });

  test.each([
    ['a ping', { t: 'ping' }, 'HELLO_REQUIRED'],
    ['bad JSON', '{"t": "hello", oops', 'BAD_JSON'],
    ['an unknown frame', { t: 'launch' }, 'BAD_FRAME'],
    ['a hello without a site key', { t: 'hello', v: PROTOCOL_VERSION }, 'BAD_FRAME'],
    ['a binary frame', Buffer.from('{"t":"hello"}'), 'BAD_FRAME'],
  ] as const)('a first frame that is %s gets its error code and CLOSE.BAD_HELLO', async (_name, frame, code) => {
    const relay = await setup();
    const c = await relay.socket();
    if (Buffer.isBuffer(frame)) c.ws.send(frame, { binary: true });
    else c.send(frame);
    expect((await c.waitClosed()).code).toBe(CLOSE.BAD_HELLO);
    expect(c.kinds()).toEqual([code]);
  });

  test('a socket that sends no hello within helloTimeoutMs gets HELLO_TIMEOUT and CLOSE.HELLO_TIMEOUT; one that said hello in time stays', async () => {
    const relay = await setup({ limits: { helloTimeoutMs: 40 } });
    const silent = await relay.socket();
    const greeted = await relay.socket();
    relay.clock.advance(39);
    await greeted.hello();
    relay.clock.advance(1);
    expect((await silent.waitClosed()).code).toBe(CLOSE.HELLO_TIMEOUT);
    expect(silent.kinds()).toEqual(['HELLO_TIMEOUT']);
    await stillServed(greeted);
  });

  test('a socket that sends nothing for idleTimeoutMs gets IDLE_TIMEOUT and CLOSE.IDLE_TIMEOUT; pings keep another open', async () => {
    const relay = await setup({ limits: { idleTimeoutMs: 40 } });
    const idle = await relay.socket();
    await idle.hello();
    const busy = await relay.socket();
    await busy.hello();
    relay.clock.advance(30);
    await stillServed(busy);
    relay.clock.advance(10);
    expect((await idle.waitClosed()).code).toBe(CLOSE.IDLE_TIMEOUT);
    expect(idle.kinds()).toEqual(['welcome', 'IDLE_TIMEOUT']);
    await stillServed(busy);
  });
});

describe('per-address limits', () => {
  test('of 12 sockets opened at once from one address, exactly maxConnectionsPerIp are served; the rest get TOO_MANY_CONNECTIONS and CLOSE.TOO_MANY_CONNECTIONS', async () => {
    const relay = await setup({ limits: { maxConnectionsPerIp: 5 } });
    const sockets = await Promise.all(Array.from({ length: 12 }, () => relay.socket()));
    const outcomes = await Promise.all(
      sockets.map(async (c) => {
        c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' });
        const f = await c.take((f) => f.t === 'welcome' || f.t === 'error');
        return f.t === 'welcome' ? 'welcome' : `${c.kinds().join()} ${(await c.waitClosed()).code}`;
      }),
    );
    expect(outcomes.filter((o) => o === 'welcome')).toHaveLength(5);
    expect(outcomes.filter((o) => o !== 'welcome')).toEqual(Array(7).fill(`TOO_MANY_CONNECTIONS ${CLOSE.TOO_MANY_CONNECTIONS}`));
    await (await relay.socket(undefined, '198.51.100.7')).hello();
  });

  test('new visitors over newVisitorsPerIpPerMinute get RATE_LIMITED and CLOSE.RATE_LIMITED; a returning visitor and another address are served', async () => {
    const relay = await setup({ limits: { newVisitorsPerIpPerMinute: 3 } });
    const { token } = await (await relay.socket()).hello();
    await (await relay.socket()).hello();
    await (await relay.socket()).hello();
    expect(await refused(await relay.socket(), {})).toEqual({ frames: ['RATE_LIMITED'], close: CLOSE.RATE_LIMITED });
    await (await relay.socket()).hello({ token });
    await (await relay.socket(undefined, '198.51.100.7')).hello();
    relay.clock.advance(20_000); // one more new visitor every 20 s
    await (await relay.socket()).hello();
  });

  test("wrong tokens and identity signatures use up an address's allowance; then a hello with a token gets RATE_LIMITED until authBlockMs passes, and a signature goes unchecked", async () => {
    const relay = await setup({ limits: { authFailuresPerIp: { perSecond: 0.001, burst: 3 }, authBlockMs: 60_000 } });
    const good = await (await relay.socket()).hello();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-1');
    const wrong = await hmacSha256Hex('not-the-identity-secret-0123', 'user-1');
    for (let i = 0; i < 2; i++) expect((await refused(await relay.socket(), { token: `garbage-${i}` })).frames).toEqual(['TOKEN_INVALID']);
    const forged = await relay.socket();
    await forged.hello({ identity: { userId: 'user-1', signature: wrong } });
    expect(await forged.take('error')).toMatchObject({ code: 'IDENTITY_INVALID' });
    // The failure that finds the allowance empty blocks the address.
    expect((await refused(await relay.socket(), { token: 'garbage-3' })).frames).toEqual(['TOKEN_INVALID']);
    expect(await refused(await relay.socket(), { token: good.token })).toEqual({ frames: ['RATE_LIMITED'], close: CLOSE.RATE_LIMITED });
    // A signature is not checked while blocked (a right one learns nothing either): the visitor chats anonymously.
    const blocked = await relay.socket();
    expect((await blocked.hello({ identity: { userId: 'user-1', signature } })).identity).toBeUndefined();
    expect(await blocked.take('error')).toMatchObject({ code: 'RATE_LIMITED' });
    await stillServed(blocked);
    // A hello that proves nothing is not an authentication; another address is not blocked.
    await (await relay.socket()).hello();
    await (await relay.socket(undefined, '198.51.100.7')).hello({ token: good.token });
    relay.clock.advance(60_001);
    expect((await (await relay.socket()).hello({ token: good.token })).conversationId).toBe(good.conversationId);
  });
});

describe('frames after hello', () => {
  test('a send is stored, acked with its seq and echoed; the same id again is acked with the same seq and stored once', async () => {
    const relay = await setup();
    const c = await relay.socket();
    const { conversationId } = await c.hello();
    c.send({ t: 'send', id: 'm_1', body: text('hi') });
    expect(await c.take('ack')).toEqual({ t: 'ack', id: 'm_1', seq: 1, ts: relay.clock.now });
    expect(await c.take('msg')).toMatchObject({ id: 'm_1', seq: 1, from: { role: 'visitor' }, body: { text: 'hi' } });
    c.send({ t: 'send', id: 'm_1', body: text('hi') });
    expect(await c.take('ack')).toMatchObject({ id: 'm_1', seq: 1 });
    c.send({ t: 'send', id: 'm_2', body: text('again') });
    expect(await c.take('ack')).toMatchObject({ id: 'm_2', seq: 2 });
    const history = await relay.api('GET', `/v1/conversations/${conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string; seq: number }) => [e.id, e.seq])).toEqual([
      ['m_1', 1],
      ['m_2', 2],
    ]);
  });

  test("a send that reuses the id of the backend's message gets ID_CONFLICT naming it, and is not stored", async () => {
    const relay = await setup();
    const c = await relay.socket();
    const { conversationId } = await c.hello();
    c.send({ t: 'send', id: 'm_1', body: text('hi') });
    await c.take('ack');
    await relay.api('POST', `/v1/conversations/${conversationId}/messages`, { id: 'bot_1', body: text('Hello!') });
    await c.take((f) => f.t === 'msg' && f.id === 'bot_1');
    c.send({ t: 'send', id: 'bot_1', body: text('mine') });
    expect(await c.take('error')).toMatchObject({ code: 'ID_CONFLICT', id: 'bot_1' });
    expect((await relay.api('GET', `/v1/conversations/${conversationId}/messages`)).json.entries).toHaveLength(2);
  });

  test('a ping is answered with a pong carrying the relay clock', async () => {
    const relay = await setup();
    const c = await relay.socket();
    await c.hello();
    c.send({ t: 'ping', ts: 5 });
    expect(await c.take('pong')).toEqual({ t: 'pong', ts: relay.clock.now });
  });

  test('bad JSON, an unknown t, a binary frame and a second hello each get an error frame; the socket stays open', async () => {
    const relay = await setup();
    const c = await relay.socket();
    await c.hello();
    c.send('{"t": "send", oops');
    c.send({ t: 'launch' });
    c.ws.send(Buffer.from('{"t":"ping"}'), { binary: true });
    c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' });
    await stillServed(c);
    expect(c.kinds()).toEqual(['welcome', 'BAD_JSON', 'BAD_FRAME', 'BAD_FRAME', 'BAD_FRAME', 'pong']);
  });

  test('a send over the text limit or with a body only the backend may send gets BAD_FRAME, and nothing is stored', async () => {
    const relay = await setup();
    const c = await relay.socket();
    const { conversationId } = await c.hello();
    c.send({ t: 'send', id: 'x1', body: text('x'.repeat(LIMITS.maxTextLength + 1)) });
    c.send({ t: 'send', id: 'x2', body: { type: 'card', kind: 'product', title: 'visitors cannot send cards' } });
    await stillServed(c);
    expect(c.kinds()).toEqual(['welcome', 'BAD_FRAME', 'BAD_FRAME', 'pong']);
    // Not even the conversation, which the first valid action would store.
    expect(await relay.api('GET', `/v1/conversations/${conversationId}/messages`)).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } });
  });

  test('a frame over maxFrameBytes gets TOO_LARGE and CLOSE.FRAME_TOO_LARGE', async () => {
    const relay = await setup({ limits: { maxFrameBytes: 1024 } });
    const c = await relay.socket();
    await c.hello();
    c.send({ t: 'send', id: 'big', body: text('x'.repeat(1100)) });
    expect((await c.waitClosed()).code).toBe(CLOSE.FRAME_TOO_LARGE);
    expect(c.kinds()).toEqual(['welcome', 'TOO_LARGE']);
  });

  test('invalid frames are answered until maxInvalidFrames, then the socket is closed with CLOSE.PROTOCOL_ERROR', async () => {
    const relay = await setup({ limits: { maxInvalidFrames: 4 } });
    const c = await relay.socket();
    await c.hello();
    for (let i = 0; i < 6; i++) c.send('nope');
    expect((await c.waitClosed()).code).toBe(CLOSE.PROTOCOL_ERROR);
    expect(c.kinds()).toEqual(['welcome', 'BAD_JSON', 'BAD_JSON', 'BAD_JSON', 'BAD_JSON']);
  });

  test('with a frozen clock: burst-1 frames after hello are answered, then one RATE_LIMITED warning, then CLOSE.RATE_LIMITED after rateLimitStrikes more', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 40 }), async (burst, strikes, extra) => {
        const relay = await injectRelay({ limits: { rateLimit: { perSecond: 1, burst }, rateLimitStrikes: strikes } });
        try {
          const c = await relay.socket();
          await c.hello(); // takes one token
          for (let i = 0; i < burst - 1 + strikes + 1 + extra; i++) c.send({ t: 'ping', ts: i });
          expect((await c.waitClosed()).code).toBe(CLOSE.RATE_LIMITED);
          expect(c.kinds()).toEqual(['welcome', ...Array(burst - 1).fill('pong'), 'RATE_LIMITED', 'RATE_LIMITED']);
          // Another socket of the same address has a bucket of its own: its hello is served.
          await (await relay.socket()).hello();
        } finally {
          await relay.close();
        }
      }),
      { numRuns: 25, seed: 14_040 },
    );
  });

  test('a rate-limited socket is served again once the clock refills its bucket', async () => {
    const relay = await setup({ limits: { rateLimit: { perSecond: 1, burst: 2 }, rateLimitStrikes: 3 } });
    const c = await relay.socket();
    await c.hello();
    c.send({ t: 'ping' });
    c.send({ t: 'ping' });
    await c.take('error');
    relay.clock.advance(1000);
    await stillServed(c);
    expect(c.kinds()).toEqual(['welcome', 'pong', 'RATE_LIMITED', 'pong']);
  });

  test('a context over maxContextBytes gets TOO_LARGE and is not stored; a later one is', async () => {
    const relay = await setup({ limits: { maxContextBytes: 1024 } });
    const c = await relay.socket();
    await c.hello();
    c.send({ t: 'send', id: 'm', body: text('hi') });
    await c.take('ack');
    c.send({ t: 'context', attrs: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, 'x'.repeat(40)])) });
    expect(await c.take('error')).toMatchObject({ code: 'TOO_LARGE' });
    c.send({ t: 'context', attrs: { plan: 'gold' } });
    await stillServed(c);
    const [stored] = (await relay.api('GET', '/v1/conversations')).json.items;
    expect(stored.context.attrs).toEqual({ plan: 'gold' });
  });

  test('once the backend closes the conversation, a text send gets CONVERSATION_CLOSED naming it; a rating is still acked', async () => {
    const relay = await setup();
    const c = await relay.socket();
    const { conversationId } = await c.hello();
    c.send({ t: 'send', id: 'm', body: text('hi') });
    await c.take('ack');
    expect((await relay.api('POST', `/v1/conversations/${conversationId}/events`, { id: 'close_1', event: { type: 'closed' } })).status).toBe(200);
    await c.take((f) => f.t === 'event' && f.event.type === 'closed');
    c.send({ t: 'send', id: 'late', body: text('one more thing') });
    expect(await c.take('error')).toMatchObject({ code: 'CONVERSATION_CLOSED', id: 'late' });
    c.send({ t: 'send', id: 'stars', body: { type: 'rating', score: 5 } });
    expect(await c.take('ack')).toMatchObject({ id: 'stars' });
  });
});

describe('delivery and resume', () => {
  test("the backend's message reaches the visitor's socket; another site's secret cannot post it", async () => {
    const relay = await setup();
    const c = await relay.socket();
    const { conversationId } = await c.hello();
    c.send({ t: 'send', id: 'm', body: text('hi') });
    await c.take('ack');
    const path = `/v1/conversations/${conversationId}/messages`;
    expect((await relay.api('POST', path, { id: 'intruder', body: text('hello from elsewhere') }, API_SECRET_2)).status).toBe(404);
    expect((await relay.api('POST', path, { id: 'bot_1', from: { role: 'bot', name: 'Bot' }, body: text('Hello!') })).status).toBe(201);
    expect(await c.take((f) => f.t === 'msg' && f.id !== 'm')).toMatchObject({ id: 'bot_1', seq: 2, from: { role: 'bot', name: 'Bot' } });
  });

  test('a hello with a token and lastSeq replays only what came after; a lastSeq past the log replays all with reset', async () => {
    const relay = await setup();
    const c = await relay.socket();
    const w = await c.hello();
    for (const id of ['a', 'b', 'c']) c.send({ t: 'send', id, body: text(id) });
    await c.take((f) => f.t === 'ack' && f.id === 'c');

    const resumed = await relay.socket();
    const again = await resumed.hello({ token: w.token, lastSeq: 1 });
    expect(again).toMatchObject({ conversationId: w.conversationId, lastSeq: 3 });
    expect(again.reset).toBeUndefined();
    await resumed.take((f) => f.t === 'msg' && f.id === 'c');
    expect(resumed.frames.filter((f) => f.t === 'msg').map((f) => f.seq)).toEqual([2, 3]);

    const ahead = await relay.socket();
    expect(await ahead.hello({ token: w.token, lastSeq: 30 })).toMatchObject({ conversationId: w.conversationId, reset: true, lastSeq: 3 });
    await ahead.take((f) => f.t === 'msg' && f.id === 'c');
    expect(ahead.frames.filter((f) => f.t === 'msg').map((f) => f.seq)).toEqual([1, 2, 3]);
  });

  test('closing the app tells every socket NOT_READY and closes it with CLOSE.GOING_AWAY', async () => {
    const relay = await injectRelay();
    const c = await relay.socket();
    await c.hello();
    expect((await relay.request({ method: 'GET', url: '/readyz' })).json).toEqual({ status: 'ready', engine: 'memory' });
    await relay.app.close();
    expect((await c.waitClosed()).code).toBe(CLOSE.GOING_AWAY);
    expect(c.kinds()).toEqual(['welcome', 'NOT_READY']);
  });
});
