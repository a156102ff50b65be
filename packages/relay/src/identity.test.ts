import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE, PROTOCOL_VERSION, hmacSha256Hex } from '@parley/protocol';
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

  test('a bad signature is refused with IDENTITY_INVALID and CLOSE.IDENTITY_INVALID', async () => {
    const { open } = await setup();
    const c = await open();
    const wrong = await hmacSha256Hex('some-other-secret-0123456789', 'user-42');
    c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', identity: { userId: 'user-42', signature: wrong } });
    expect(await c.take('error')).toMatchObject({ code: 'IDENTITY_INVALID' });
    expect((await c.waitClosed()).code).toBe(CLOSE.IDENTITY_INVALID);
  });

  test('the signature is lower-case hex: the same MAC in upper case is refused with IDENTITY_INVALID', async () => {
    const { open } = await setup();
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-42');
    const upper = await open();
    upper.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', identity: { userId: 'user-42', signature: signature.toUpperCase() } });
    expect(await upper.take('error')).toMatchObject({ code: 'IDENTITY_INVALID' });
    expect((await upper.waitClosed()).code).toBe(CLOSE.IDENTITY_INVALID);
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
});
