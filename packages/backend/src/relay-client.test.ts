import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RelayError } from './errors.js';
import { createRelayClient } from './relay-client.js';
import { startRecordingServer, type RecordingServer } from '../../../test/support/recording-server.js';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Answer = { status: number; body: unknown; raw?: string };

/** A stand-in relay on port 0: records every request and answers from a queue. */
let fake: RecordingServer<Recorded>;
let url: string;
let requests: Recorded[];
let answers: Answer[];

beforeEach(async () => {
  answers = [];
  fake = await startRecordingServer<Recorded>({
    record: ({ method, url, headers, raw }) => ({ method, url, headers, body: raw }),
    answer: () => {
      const a = answers.shift() ?? { status: 500, body: { error: { code: 'INTERNAL', message: 'no answer queued' } } };
      // A raw answer is a body that is not JSON, still labelled as JSON.
      return a.raw !== undefined ? { status: a.status, raw: a.raw, contentType: 'application/json' } : { status: a.status, body: a.body };
    },
  });
  requests = fake.received;
  url = fake.base;
});

afterEach(() => fake.close());

const message = { seq: 4, id: 'msg_1', ts: 1_800_000_000_000, from: { role: 'bot' as const, name: 'Parley Bot' }, body: { type: 'text' as const, text: 'Hi!' } };

describe('createRelayClient', () => {
  test('sendMessage POSTs the message with the bearer secret and returns the stored message', async () => {
    answers.push({ status: 201, body: { message, duplicate: false } });
    const relay = createRelayClient({ url: url + '/', apiSecret: 'sk_test_123' });
    const result = await relay.sendMessage('c/1', { id: 'msg_1', from: { role: 'bot', name: 'Parley Bot' }, body: { type: 'text', text: 'Hi!' } });
    expect(result).toEqual({ message, duplicate: false });
    expect(requests).toHaveLength(1);
    const [req] = requests;
    expect(req).toMatchObject({ method: 'POST', url: '/v1/conversations/c%2F1/messages' });
    expect(req?.headers.authorization).toBe('Bearer sk_test_123');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req?.body ?? '')).toEqual({ id: 'msg_1', from: { role: 'bot', name: 'Parley Bot' }, body: { type: 'text', text: 'Hi!' } });
  });

  test('sendEvent POSTs the event with its optional id', async () => {
    answers.push({ status: 200, body: { seq: 5, duplicate: false } }, { status: 200, body: { duplicate: false } });
    const relay = createRelayClient({ url, apiSecret: 'sk' });
    expect(await relay.sendEvent('c_1', { type: 'queue', position: 2 }, { id: 'q_1' })).toEqual({ seq: 5, duplicate: false });
    expect(await relay.sendEvent('c_1', { type: 'typing', on: true })).toEqual({ duplicate: false });
    expect(requests.map((r) => [r.url, JSON.parse(r.body)])).toEqual([
      ['/v1/conversations/c_1/events', { id: 'q_1', event: { type: 'queue', position: 2 } }],
      ['/v1/conversations/c_1/events', { event: { type: 'typing', on: true } }],
    ]);
  });

  test('history GETs the log after a sequence number and keeps each entry kind', async () => {
    const event = { kind: 'event', seq: 5, id: 'e_1', ts: 1, event: { type: 'handoff', state: 'requested' } };
    answers.push({ status: 200, body: { entries: [{ kind: 'msg', ...message }, event], lastSeq: 5, hasMore: false } });
    const relay = createRelayClient({ url, apiSecret: 'sk' });
    const page = await relay.history('c_1', { after: 3, limit: 50 });
    expect(requests[0]).toMatchObject({ method: 'GET', url: '/v1/conversations/c_1/messages?after=3&limit=50', body: '' });
    expect(page).toEqual({ entries: [{ kind: 'msg', ...message }, event], lastSeq: 5, hasMore: false });
  });

  test('conversations, setAvailability and deadLetters call their routes and return the items', async () => {
    const conversation = {
      id: 'c_1',
      visitorId: 'v_1',
      createdAt: 10,
      lastSeq: 2,
      closed: false,
      context: { page: { url: 'https://shop.example/p/1', title: 'Runner' } },
      identity: { userId: 'u_1', verified: true },
    };
    const deadLetter = {
      event: {
        id: 'evt_1',
        type: 'conversation.started',
        createdAt: 1,
        siteKey: 'pk_demo',
        conversationId: 'c_1',
        visitor: { id: 'v_1' },
        data: { context: {} },
      },
      attempts: 9,
      firstAttemptAt: 1,
      lastAttemptAt: 2,
      lastError: { code: 'WEBHOOK_FAILED', message: 'HTTP 500', status: 500 },
    };
    answers.push({ status: 200, body: { items: [conversation] } }, { status: 200, body: { online: false } }, { status: 200, body: { items: [deadLetter] } });
    const relay = createRelayClient({ url, apiSecret: 'sk' });
    expect(await relay.conversations()).toEqual([conversation]);
    expect(await relay.setAvailability(false)).toEqual({ online: false });
    expect(await relay.deadLetters()).toEqual([deadLetter]);
    expect(requests.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual([
      'GET /v1/conversations ',
      'POST /v1/availability {"online":false}',
      'GET /v1/dead-letters ',
    ]);
    expect(requests.every((r) => r.headers.authorization === 'Bearer sk')).toBe(true);
  });

  test('listConversations sends limit and cursor and returns the page with its nextCursor; eachConversation follows it to the end', async () => {
    const summary = (id: string) => ({ id, visitorId: `v_${id}`, createdAt: 10, lastSeq: 0, closed: false, context: {} });
    answers.push({ status: 200, body: { items: [summary('c_3'), summary('c_2')], nextCursor: 'WzEwLCJjXzIiXQ' } });
    answers.push({ status: 200, body: { items: [summary('c_3')], nextCursor: 'abc' } }, { status: 200, body: { items: [summary('c_2')], nextCursor: null } });
    answers.push({ status: 200, body: { items: [summary('c_1')] } }, { status: 200, body: { items: [], nextCursor: 7 } });
    const relay = createRelayClient({ url, apiSecret: 'sk' });
    expect(await relay.listConversations({ limit: 2, cursor: 'WzIwLCJjXzQiXQ' })).toEqual({ conversations: [summary('c_3'), summary('c_2')], nextCursor: 'WzEwLCJjXzIiXQ' });
    const walked: string[] = [];
    for await (const c of relay.eachConversation({ pageSize: 1 })) walked.push(c.id);
    expect(walked).toEqual(['c_3', 'c_2']);
    // A relay from before paging answers without nextCursor: that page is the last.
    expect(await relay.listConversations()).toEqual({ conversations: [summary('c_1')], nextCursor: null });
    expect(await relay.listConversations().catch((e: unknown) => e)).toMatchObject({ code: 'RELAY_BAD_RESPONSE' });
    expect(requests.map((r) => r.url)).toEqual([
      '/v1/conversations?limit=2&cursor=WzIwLCJjXzQiXQ',
      '/v1/conversations?limit=1',
      '/v1/conversations?limit=1&cursor=abc',
      '/v1/conversations',
      '/v1/conversations',
    ]);
  });

  test("throws a RelayError with the relay's code, message and status", async () => {
    answers.push({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'The API secret is missing or wrong.' } } });
    answers.push({ status: 409, body: { error: { code: 'ID_CONFLICT', message: 'This message id was already used with a different body.' } } });
    const relay = createRelayClient({ url, apiSecret: 'wrong' });
    const unauthorized = await relay.conversations().catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(RelayError);
    expect(unauthorized).toMatchObject({ code: 'UNAUTHORIZED', status: 401, message: 'The API secret is missing or wrong.' });
    const conflict = await relay.sendMessage('c_1', { id: 'm', body: { type: 'text', text: 'x' } }).catch((e: unknown) => e);
    expect(conflict).toMatchObject({ code: 'ID_CONFLICT', status: 409 });
  });

  test('throws RELAY_BAD_RESPONSE for an error without an error body or a 2xx body off the protocol', async () => {
    answers.push({ status: 502, body: null, raw: '<html>Bad gateway</html>' });
    answers.push({ status: 200, body: { entries: [{ kind: 'msg', seq: 'one' }], lastSeq: 1, hasMore: false } });
    const relay = createRelayClient({ url, apiSecret: 'sk' });
    expect(await relay.conversations().catch((e: unknown) => e)).toMatchObject({ code: 'RELAY_BAD_RESPONSE', status: 502 });
    expect(await relay.history('c_1').catch((e: unknown) => e)).toMatchObject({ code: 'RELAY_BAD_RESPONSE', status: 200 });
  });

  test('throws RELAY_UNREACHABLE with status 0 when nothing listens', async () => {
    await fake.close();
    const relay = createRelayClient({ url, apiSecret: 'sk' });
    expect(await relay.setAvailability(true).catch((e: unknown) => e)).toMatchObject({ name: 'RelayError', code: 'RELAY_UNREACHABLE', status: 0 });
  });

  test('throws RELAY_TIMEOUT when the relay does not answer within timeoutMs', async () => {
    const relay = createRelayClient({
      url,
      apiSecret: 'sk',
      timeoutMs: 50,
      // A relay that accepts the request and never answers.
      fetch: (_input, init) => new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))),
    });
    expect(await relay.conversations().catch((e: unknown) => e)).toMatchObject({ code: 'RELAY_TIMEOUT', status: 0 });
  });

  test('refuses to build without a url or secret', () => {
    expect(() => createRelayClient({ url: '', apiSecret: 'sk' })).toThrow(TypeError);
    expect(() => createRelayClient({ url, apiSecret: '' })).toThrow(TypeError);
  });
});
