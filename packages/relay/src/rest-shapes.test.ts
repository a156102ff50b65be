import { afterEach, describe, expect, test } from 'vitest';
import {
  AvailabilityResponse,
  ConversationListResponse,
  DeadLettersResponse,
  ErrorBody,
  HistoryResponse,
  PostEventResponse,
  PostMessageResponse,
  RevokeVisitorResponse,
  check,
  hmacSha256Hex,
} from '@parley/protocol';
import { IDENTITY_SECRET, TestClient, eventually, startBackend, startRelay, testConfig } from './test-support/harness.js';

// Every answer of the backend REST API, from a real relay, checked against its schema in
// `@parley/protocol` (rest.ts): the schemas the backend SDK parses with describe what the relay sends.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Schema = Parameters<typeof check>[0];

/** Every answer the relay gave in a test, with the schema it must match. */
let answers: Array<{ route: string; schema: Schema; status: number; json: unknown }> = [];

async function setup() {
  // The backend refuses every webhook, so deliveries run out of retries and become dead letters.
  const backend = await startBackend(() => ({ status: 500 }));
  cleanups.push(backend.close);
  const relay = await startRelay(testConfig(backend.url), { webhooks: { retryScheduleMs: [10], timeoutMs: 500 } });
  cleanups.push(relay.close);
  const call = async (route: string, schema: Schema, method: string, path: string, body?: unknown, secret?: string) => {
    const answer = await relay.api(method, path, body, secret);
    answers.push({ route, schema, ...answer });
    return answer;
  };
  /** A started conversation: a visitor (signed in when `userId` is given) who said something. */
  const conversation = async (userId?: string) => {
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    const identity = userId ? { identity: { userId, name: 'Ada', signature: await hmacSha256Hex(IDENTITY_SECRET, userId) } } : {};
    const welcome = await c.hello({ page: { url: 'https://shop.example/p/1', title: 'Runner' }, ...identity });
    c.send({ t: 'send', id: 'first', body: { type: 'text', text: 'hi' } });
    await c.take('ack');
    return welcome;
  };
  return { relay, call, conversation };
}

describe('the relay answers every REST route in the shape of its rest.ts schema', () => {
  test('success and error bodies of every route validate, and a field off the shape does not', async () => {
    answers = [];
    const { call, conversation } = await setup();
    const signedIn = await conversation('user-1');
    await conversation();
    const id = signedIn.conversationId;
    const messages = `/v1/conversations/${id}/messages`;
    const message = { id: 'bot_1', from: { role: 'bot', name: 'Parley Bot' }, body: { type: 'text', text: 'Hello!' } };

    expect((await call('message', PostMessageResponse, 'POST', messages, message)).status).toBe(201);
    expect((await call('message again', PostMessageResponse, 'POST', messages, message)).json.duplicate).toBe(true);
    expect((await call('stored event', PostEventResponse, 'POST', `/v1/conversations/${id}/events`, { id: 'q_1', event: { type: 'queue', position: 2 } })).json.seq).toBeGreaterThan(0);
    expect((await call('transient event', PostEventResponse, 'POST', `/v1/conversations/${id}/events`, { event: { type: 'typing', on: true } })).json).toEqual({ duplicate: false });
    const history = await call('history', HistoryResponse, 'GET', messages);
    expect(history.json.entries.map((e: { kind: string }) => e.kind)).toEqual(['msg', 'msg', 'event']);
    await call('history page', HistoryResponse, 'GET', `${messages}?after=1&limit=1`);

    const list = await call('list', ConversationListResponse, 'GET', '/v1/conversations');
    expect(list.json.items).toHaveLength(2);
    expect(list.json.items.find((c: { id: string }) => c.id === id).identity).toMatchObject({ userId: 'user-1', verified: true });
    const first = await call('list page', ConversationListResponse, 'GET', '/v1/conversations?limit=1');
    expect(typeof first.json.nextCursor).toBe('string');
    expect((await call('list last page', ConversationListResponse, 'GET', `/v1/conversations?limit=1&cursor=${first.json.nextCursor}`)).json.nextCursor).toBeNull();

    await call('availability', AvailabilityResponse, 'POST', '/v1/availability', { online: false });
    await call('revoke', RevokeVisitorResponse, 'POST', `/v1/visitors/${signedIn.visitorId}/revoke`);
    await eventually(async () => (await call('dead letters', DeadLettersResponse, 'GET', '/v1/dead-letters')).json.items.length > 0);

    expect((await call('unknown conversation', ErrorBody, 'GET', '/v1/conversations/c_nope/messages')).status).toBe(404);
    expect((await call('bad body', ErrorBody, 'POST', messages, { id: 'x' })).status).toBe(400);
    expect((await call('id conflict', ErrorBody, 'POST', messages, { ...message, body: { type: 'text', text: 'Other' } })).status).toBe(409);
    expect((await call('bad cursor', ErrorBody, 'GET', '/v1/conversations?cursor=nope')).status).toBe(400);
    expect((await call('wrong secret', ErrorBody, 'GET', '/v1/conversations', undefined, 'wrong_secret_0123456789')).status).toBe(401);

    const failures = answers.flatMap(({ route, schema, json }) => {
      const parsed = check(schema, json);
      return parsed.ok ? [] : [`${route}: ${parsed.message}`];
    });
    expect(failures).toEqual([]);

    // And the check bites: each schema refuses these answers with any one top-level field off the shape.
    const accepted = answers.flatMap(({ route, schema, json }) =>
      Object.keys(json as object)
        .filter((key) => check(schema, { ...(json as object), [key]: { wrong: true } }).ok)
        .map((key) => `${route}: ${key}`),
    );
    expect(accepted).toEqual([]);
  });
});
