import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CLOSE, LIMITS, PROTOCOL_VERSION } from '@parley/protocol';
import { API_SECRET_2, ORIGIN, TestClient, startBackend, startRelay, testConfig } from './test-support/harness.js';
import { signVisitorToken } from './visitor-token.js';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let relay: Relay;
let bystander: TestClient;
let bystanderConversation: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  const backend = await startBackend();
  cleanups.push(backend.close);
  relay = await startRelay(testConfig(backend.url));
  cleanups.push(relay.close);
  bystander = await TestClient.open(relay.wsUrl);
  bystanderConversation = (await bystander.hello()).conversationId;
  // The bystander's conversation is stored with its first message.
  bystander.send({ t: 'send', id: 'bystander-hi', body: { type: 'text', text: 'hi' } });
  await bystander.take('ack');
});

afterEach(async () => {
  // The other client is still served: a message reaches it and a ping is answered.
  await relay.api('POST', `/v1/conversations/${bystanderConversation}/messages`, { id: 'still-here', body: { type: 'text', text: 'still here' } });
  await bystander.take((f) => f.t === 'msg' && f.id === 'still-here');
  bystander.send({ t: 'ping' });
  await bystander.take('pong');
  bystander.close();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function opened(origin: string | null = ORIGIN): Promise<TestClient> {
  const c = await TestClient.open(relay.wsUrl, origin);
  cleanups.push(() => c.close());
  return c;
}

/** The error frame and the close code a refused hello produces. */
async function refusedHello(c: TestClient, hello: Record<string, unknown>) {
  c.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', ...hello });
  const error = await c.take('error');
  const { code } = await c.waitClosed();
  return { error: error.code as string, close: code };
}

describe('bad frames after hello', () => {
  test('bad JSON gets BAD_JSON and the socket stays open', async () => {
    const c = await opened();
    await c.hello();
    c.send('{"t": "send", oops');
    expect(await c.take('error')).toMatchObject({ code: 'BAD_JSON' });
    c.send({ t: 'ping' });
    await c.take('pong');
  });

  test('an unknown t or a bad body gets BAD_FRAME and nothing is written', async () => {
    const c = await opened();
    const welcome = await c.hello();
    c.send({ t: 'launch' });
    expect(await c.take('error')).toMatchObject({ code: 'BAD_FRAME' });
    c.send({ t: 'send', id: 'x1', body: { type: 'text', text: 'x'.repeat(LIMITS.maxTextLength + 1) } });
    expect(await c.take('error')).toMatchObject({ code: 'BAD_FRAME' });
    c.send({ t: 'send', id: 'x2', body: { type: 'card', kind: 'product', title: 'visitors cannot send cards' } });
    expect(await c.take('error')).toMatchObject({ code: 'BAD_FRAME' });
    // Nothing was written: not even the conversation, which the first valid action would store.
    const history = await relay.api('GET', `/v1/conversations/${welcome.conversationId}/messages`);
    expect(history).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } });
  });

  test('an oversize frame gets TOO_LARGE and CLOSE.FRAME_TOO_LARGE', async () => {
    const c = await opened();
    await c.hello();
    c.send({ t: 'send', id: 'big', body: { type: 'text', text: 'x'.repeat(LIMITS.maxFrameBytes) } });
    expect(await c.take('error')).toMatchObject({ code: 'TOO_LARGE' });
    expect((await c.waitClosed()).code).toBe(CLOSE.FRAME_TOO_LARGE);
  });

  test('repeated invalid frames close with CLOSE.PROTOCOL_ERROR', async () => {
    const c = await opened();
    await c.hello();
    for (let i = 0; i < 12; i++) c.send('nope');
    expect((await c.waitClosed()).code).toBe(CLOSE.PROTOCOL_ERROR);
  });

  test('a first frame that is not hello gets HELLO_REQUIRED and CLOSE.BAD_HELLO', async () => {
    const c = await opened();
    c.send({ t: 'ping' });
    expect(await c.take('error')).toMatchObject({ code: 'HELLO_REQUIRED' });
    expect((await c.waitClosed()).code).toBe(CLOSE.BAD_HELLO);
  });
});

describe('refused hellos', () => {
  test('a wrong site key gets BAD_SITE_KEY and CLOSE.BAD_SITE_KEY', async () => {
    expect(await refusedHello(await opened(), { siteKey: 'pk_nope' })).toEqual({ error: 'BAD_SITE_KEY', close: CLOSE.BAD_SITE_KEY });
  });

  test('an Origin that is not allowed gets ORIGIN_REFUSED and CLOSE.ORIGIN_REFUSED', async () => {
    expect(await refusedHello(await opened('https://evil.example'), {})).toEqual({ error: 'ORIGIN_REFUSED', close: CLOSE.ORIGIN_REFUSED });
    expect(await refusedHello(await opened(null), {})).toEqual({ error: 'ORIGIN_REFUSED', close: CLOSE.ORIGIN_REFUSED });
  });

  test('an unsupported protocol version gets UNSUPPORTED_VERSION', async () => {
    expect(await refusedHello(await opened(), { v: 99 })).toEqual({ error: 'UNSUPPORTED_VERSION', close: CLOSE.UNSUPPORTED_VERSION });
  });

  test('a forged token gets TOKEN_INVALID and CLOSE.TOKEN_INVALID', async () => {
    const forged = signVisitorToken('not-the-relay-secret-0123456789abcdef', { siteKey: 'pk_test', visitorId: 'v_x', conversationId: bystanderConversation });
    expect(await refusedHello(await opened(), { token: forged })).toEqual({ error: 'TOKEN_INVALID', close: CLOSE.TOKEN_INVALID });
    expect(await refusedHello(await opened(), { token: 'garbage' })).toEqual({ error: 'TOKEN_INVALID', close: CLOSE.TOKEN_INVALID });
  });

  test("another visitor's token cannot be bent to reach a different conversation", async () => {
    const mine = await opened();
    const w = await mine.hello();
    // Splice the bystander's conversation id into my token, keeping my signature.
    const [v, payload, sig] = w.token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const bent = `${v}.${Buffer.from(JSON.stringify({ ...claims, c: bystanderConversation })).toString('base64url')}.${sig}`;
    expect(await refusedHello(await opened(), { token: bent })).toEqual({ error: 'TOKEN_INVALID', close: CLOSE.TOKEN_INVALID });
    expect(bystander.msgs().map((m) => m.id)).toEqual(['bystander-hi']);
  });

  test("another site's visitor token gets TOKEN_INVALID", async () => {
    const other = await opened();
    other.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_other' });
    const w = await other.take('welcome');
    expect(await refusedHello(await opened(), { token: w.token })).toEqual({ error: 'TOKEN_INVALID', close: CLOSE.TOKEN_INVALID });
  });
});

describe('REST refusals', () => {
  test("another site's secret gets 404 NOT_FOUND on this site's conversation, as an unknown id does; no secret gets 401", async () => {
    const post = await relay.api('POST', `/v1/conversations/${bystanderConversation}/messages`, { id: 'x', body: { type: 'text', text: 'hi' } }, API_SECRET_2);
    expect(post).toEqual({ status: 404, json: { error: { code: 'NOT_FOUND', message: expect.any(String) } } });
    const unknown = await relay.api('POST', `/v1/conversations/c_doesnotexist/messages`, { id: 'x', body: { type: 'text', text: 'hi' } }, API_SECRET_2);
    expect(unknown).toEqual(post);
    const read = await relay.api('GET', `/v1/conversations/${bystanderConversation}/messages`, undefined, API_SECRET_2);
    expect(read.status).toBe(404);
    const wrong = await relay.api('GET', `/v1/conversations/${bystanderConversation}/messages`, undefined, 'wrong-secret-0123456789');
    expect(wrong).toMatchObject({ status: 401, json: { error: { code: 'UNAUTHORIZED' } } });
    const none = await fetch(`${relay.base}/v1/conversations`);
    expect(none.status).toBe(401);
    const list = await relay.api('GET', '/v1/conversations', undefined, API_SECRET_2);
    expect(list.json.items.map((i: { id: string }) => i.id)).not.toContain(bystanderConversation);
  });

  test('a body over 64 KiB gets 413 TOO_LARGE; a body over the schema limits gets 400 BAD_REQUEST naming the path', async () => {
    const big = await relay.api('POST', `/v1/conversations/${bystanderConversation}/messages`, { id: 'big', body: { type: 'text', text: 'x'.repeat(70_000) } });
    expect(big).toMatchObject({ status: 413, json: { error: { code: 'TOO_LARGE' } } });
    const long = await relay.api('POST', `/v1/conversations/${bystanderConversation}/messages`, { id: 'long', body: { type: 'text', text: 'x'.repeat(LIMITS.maxTextLength + 1) } });
    expect(long).toMatchObject({ status: 400, json: { error: { code: 'BAD_REQUEST', message: expect.stringContaining('body.text') } } });
    const json = await relay.api('POST', `/v1/conversations/${bystanderConversation}/messages`, '{"id":');
    expect(json).toMatchObject({ status: 400, json: { error: { code: 'BAD_JSON' } } });
    const missing = await relay.api('POST', '/v1/conversations/c_doesnotexist/messages', { id: 'x', body: { type: 'text', text: 'hi' } });
    expect(missing).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } });
  });

  test('the same message id with a different body gets 409 ID_CONFLICT', async () => {
    const path = `/v1/conversations/${bystanderConversation}/messages`;
    expect((await relay.api('POST', path, { id: 'same', body: { type: 'text', text: 'one' } })).status).toBe(201);
    expect((await relay.api('POST', path, { id: 'same', body: { type: 'text', text: 'one' } })).status).toBe(200);
    expect(await relay.api('POST', path, { id: 'same', body: { type: 'text', text: 'two' } })).toMatchObject({ status: 409, json: { error: { code: 'ID_CONFLICT' } } });
    await bystander.take((f) => f.t === 'msg' && f.id === 'same');
  });
});
