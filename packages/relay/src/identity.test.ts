import { afterEach, describe, expect, test } from 'vitest';
import { hmacSha256Hex } from '@parley/protocol';
import { IDENTITY_SECRET, TestClient, startBackend, startRelay, testConfig } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const backend = await startBackend();
  cleanups.push(backend.close);
  const relay = await startRelay(testConfig(backend.url));
  cleanups.push(relay.close);
  const open = async () => {
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    return c;
  };
  return { backend, relay, open };
}

describe('identity', () => {
  test('a valid signature is verified and a second device of the same user joins the same conversation', async () => {
    const { backend, open } = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-42');
    const phone = await open();
    const w1 = await phone.hello({ identity: { userId: 'user-42', name: 'Ada', email: 'ada@example.com', signature } });
    expect(w1.identity).toEqual({ userId: 'user-42', verified: true });
    phone.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'from my phone' } });
    await phone.take('ack');

    // The laptop has no token: the verified user id finds the conversation.
    const laptop = await open();
    const w2 = await laptop.hello({ identity: { userId: 'user-42', signature } });
    expect(w2.conversationId).toBe(w1.conversationId);
    expect(w2.lastSeq).toBe(1);
    expect(await laptop.take('msg')).toMatchObject({ id: 'm1', body: { text: 'from my phone' } });

    const [started] = await backend.waitFor(2);
    expect(started!.json.visitor.identity).toMatchObject({ userId: 'user-42', name: 'Ada', verified: true });
  });

  test('a bad signature drops the identity: the visitor is welcomed anonymously, told IDENTITY_INVALID, and chats; the backend sees no identity', async () => {
    const { backend, open } = await setup();
    const c = await open();
    const wrong = 'deadbeef'.repeat(8);
    const welcome = await c.hello({ identity: { userId: 'u_1001', name: 'Mallory', signature: wrong } });
    expect(welcome.identity).toBeUndefined();
    expect(welcome.greeting.text).toBeTruthy();
    expect(await c.take('error')).toMatchObject({ code: 'IDENTITY_INVALID', message: expect.stringContaining('anonymously') });
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'still here' } });
    expect(await c.take('ack')).toMatchObject({ id: 'm1', seq: 1 });
    expect(c.closed).toBeUndefined();
    const [started, created] = await backend.waitFor(2);
    for (const hook of [started!, created!]) expect(hook.json.visitor).toEqual({ id: welcome.visitorId, readSeq: 0 });
    // The token is an anonymous one: it does not open the user's conversation.
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'u_1001');
    const real = await open();
    const signedIn = await real.hello({ identity: { userId: 'u_1001', signature } });
    expect(signedIn.conversationId).not.toBe(welcome.conversationId);
  });

  test('the signature is lower-case hex: the same MAC in upper case is refused (IDENTITY_INVALID, anonymous)', async () => {
    const { open } = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-42');
    const upper = await open();
    expect((await upper.hello({ identity: { userId: 'user-42', signature: signature.toUpperCase() } })).identity).toBeUndefined();
    expect(await upper.take('error')).toMatchObject({ code: 'IDENTITY_INVALID' });
    const lower = await open();
    expect((await lower.hello({ identity: { userId: 'user-42', signature } })).identity).toEqual({ userId: 'user-42', verified: true });
  });

  test('an unsigned identity is forwarded as unverified and does not reach the signed-in user’s conversation', async () => {
    const { backend, open } = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-7');
    const owner = await open();
    const w1 = await owner.hello({ identity: { userId: 'user-7', signature } });
    const impostor = await open();
    const w2 = await impostor.hello({ identity: { userId: 'user-7' } });
    expect(w2.identity).toEqual({ userId: 'user-7', verified: false });
    expect(w2.conversationId).not.toBe(w1.conversationId);
    impostor.send({ t: 'send', id: 'i1', body: { type: 'text', text: 'hi' } });
    const [started] = await backend.waitFor(2);
    expect(started!.json.visitor.identity).toEqual({ userId: 'user-7', verified: false });
  });

  test('a token issued to a signed-in user does not open their conversation once signed out', async () => {
    const { open } = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-9');
    const c = await open();
    const w1 = await c.hello({ identity: { userId: 'user-9', signature } });
    const d = await open();
    const w2 = await d.hello({ token: w1.token });
    expect(w2.conversationId).not.toBe(w1.conversationId);
    expect(w2.identity).toBeUndefined();
  });

  test('signing in mid-chat keeps the conversation: same id, same log; the backend is told visitor.identified, and later events carry the user', async () => {
    const { backend, open } = await setup();
    const anon = await open();
    const w1 = await anon.hello();
    anon.send({ t: 'send', id: 'a1', body: { type: 'text', text: 'hi, anonymous' } });
    await anon.take('ack');
    await backend.waitFor(2);
    anon.close();

    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'u_1001');
    const signedIn = await open();
    const w2 = await signedIn.hello({ token: w1.token, identity: { userId: 'u_1001', name: 'Ana', signature } });
    expect(w2).toMatchObject({ conversationId: w1.conversationId, visitorId: w1.visitorId, lastSeq: 1, identity: { userId: 'u_1001', verified: true } });
    expect(w2.reset).toBeUndefined();
    expect(await signedIn.take('msg')).toMatchObject({ id: 'a1', body: { text: 'hi, anonymous' } });
    const hooks = await backend.waitFor(3);
    expect(hooks[2]!.json).toMatchObject({ type: 'visitor.identified', conversationId: w1.conversationId, data: {}, visitor: { id: w1.visitorId, identity: { userId: 'u_1001', name: 'Ana', verified: true } } });
    signedIn.send({ t: 'send', id: 'a2', body: { type: 'text', text: 'now signed in' } });
    await signedIn.take('ack');
    expect((await backend.waitFor(4))[3]!.json.visitor.identity).toMatchObject({ userId: 'u_1001', verified: true });
    // Another device of the user finds the same conversation.
    const laptop = await open();
    expect((await laptop.hello({ identity: { userId: 'u_1001', signature } })).conversationId).toBe(w1.conversationId);
  });

  test("signing in mid-chat when the user already has an open conversation: the one on screen becomes current, the other stays open and is linked", async () => {
    const { backend, relay, open } = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'u_7');
    const phone = await open();
    const old = await phone.hello({ identity: { userId: 'u_7', signature } });
    phone.send({ t: 'send', id: 'p1', body: { type: 'text', text: 'from my phone, yesterday' } });
    await phone.take('ack');
    await backend.waitFor(2);

    const anon = await open();
    const w1 = await anon.hello();
    anon.send({ t: 'send', id: 'a1', body: { type: 'text', text: 'anonymous on the laptop' } });
    await anon.take('ack');
    await backend.waitFor(4);
    anon.close();

    const laptop = await open();
    const w2 = await laptop.hello({ token: w1.token, identity: { userId: 'u_7', signature } });
    expect(w2.conversationId).toBe(w1.conversationId);
    const identified = (await backend.waitFor(5))[4]!.json;
    expect(identified).toMatchObject({ type: 'visitor.identified', conversationId: w1.conversationId, data: { linkedConversationId: old.conversationId } });
    // Both stay reachable for the backend; the older one is not closed.
    const listed = (await relay.api('GET', '/v1/conversations')).json.items as Array<{ id: string; closed: boolean; identity?: { userId: string } }>;
    expect(listed.filter((c) => c.identity?.userId === 'u_7').map((c) => [c.id, c.closed])).toEqual(
      expect.arrayContaining([
        [old.conversationId, false],
        [w1.conversationId, false],
      ]),
    );
    expect((await relay.api('POST', `/v1/conversations/${old.conversationId}/messages`, { id: 'agent-1', from: { role: 'agent' }, body: { type: 'text', text: 'still here' } })).status).toBe(201);
    // A new device of the user joins the conversation that was on screen.
    const tablet = await open();
    expect((await tablet.hello({ identity: { userId: 'u_7', signature } })).conversationId).toBe(w1.conversationId);
  });

  test('an anonymous token signed in as one user cannot be carried to another user afterwards', async () => {
    const { open } = await setup();
    const anon = await open();
    const w1 = await anon.hello();
    anon.send({ t: 'send', id: 'a1', body: { type: 'text', text: 'hi' } });
    await anon.take('ack');
    const ana = await open();
    expect((await ana.hello({ token: w1.token, identity: { userId: 'ana', signature: await hmacSha256Hex(IDENTITY_SECRET, 'ana') } })).conversationId).toBe(w1.conversationId);
    const bob = await open();
    expect((await bob.hello({ token: w1.token, identity: { userId: 'bob', signature: await hmacSha256Hex(IDENTITY_SECRET, 'bob') } })).conversationId).not.toBe(w1.conversationId);
  });
});
