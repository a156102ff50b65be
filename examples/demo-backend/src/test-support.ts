// Test support: a stand-in relay that records REST calls (streamed answers included), and signed webhook deliveries.
import type { IncomingHttpHeaders } from 'node:http';
import { isStoredEvent, signWebhook, type WebhookEvent } from '@parley/protocol';
import { startRecordingServer, type Answer } from '../../../test/support/recording-server.js';

export const API_SECRET = 'sk_test_demo_backend_0123456789';
export const WEBHOOK_SECRET = 'whsec_' + Buffer.from('demo-backend-test-webhook-secret').toString('base64');

interface RecordedCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface FakeRelay {
  url: string;
  calls: RecordedCall[];
  /** The events POSTed for one conversation, in order. */
  events(conversationId: string): any[];
  /** The messages POSTed for one conversation, in order. */
  messages(conversationId: string): any[];
  /** The stream steps POSTed for one conversation, in order, each with its message id. */
  streamSteps(conversationId: string): any[];
  close(): Promise<void>;
}

/** A relay on port 0 that answers the REST API per the contract and records every call. */
export async function startFakeRelay(): Promise<FakeRelay> {
  const logs = new Map<string, any[]>();
  const streams = new Map<string, { from: unknown; text: string; message?: any }>();
  let seq = 0;
  const answer = (call: RecordedCall): Answer => {
    const { method, path, headers, body } = call;
    const send = (status: number, value: unknown): Answer => ({ status, body: value });
    if (headers.authorization !== `Bearer ${API_SECRET}`) return send(401, { error: { code: 'UNAUTHORIZED', message: 'The API secret is missing or wrong.' } });
    const m = /^\/v1\/conversations\/([\w-]+)\/(messages|events)$/.exec(path);
    const log = m ? (logs.get(m[1]!) ?? logs.set(m[1]!, []).get(m[1]!)!) : [];
    if (m && method === 'POST' && m[2] === 'messages') {
      const message = { seq: ++seq, id: body.id, ts: Date.now(), from: body.from ?? { role: 'bot' }, body: body.body };
      log.push({ kind: 'msg', ...message });
      return send(201, { message, duplicate: false });
    }
    if (m && method === 'POST' && m[2] === 'events') {
      if (!isStoredEvent(body.event.type)) return send(200, { duplicate: false });
      const entry = { kind: 'event', seq: ++seq, id: body.id ?? `e${seq}`, ts: Date.now(), event: body.event };
      log.push(entry);
      return send(200, { seq: entry.seq, duplicate: false });
    }
    if (m && method === 'GET') return send(200, { entries: log, lastSeq: log.at(-1)?.seq ?? 0, hasMore: false });
    const st = /^\/v1\/conversations\/([\w-]+)\/streams\/([\w-]+)$/.exec(path);
    if (st && method === 'POST') {
      const [, conv, id] = st as unknown as [string, string, string];
      const streamLog = logs.get(conv) ?? logs.set(conv, []).get(conv)!;
      let stream = streams.get(id);
      const state = (duplicate = false) => ({ id, offset: stream!.text.length, done: !!stream!.message, ...(stream!.message ? { message: stream!.message } : {}), duplicate });
      if (body.op === 'start') {
        if (stream) return send(200, state(true));
        stream = { from: body.from ?? { role: 'bot', ai: true }, text: '' };
        streams.set(id, stream);
        return send(200, state());
      }
      if (!stream) return send(404, { error: { code: 'STREAM_NOT_FOUND', message: 'No such stream.' } });
      if (stream.message) {
        if (body.op === 'delta') return send(409, { error: { code: 'STREAM_ENDED', message: 'The answer has ended.' } });
        return send(200, state(true));
      }
      if (body.op === 'delta') {
        if (body.offset > stream.text.length) return send(409, { error: { code: 'STREAM_GAP', message: `The relay holds ${stream.text.length} characters.` } });
        stream.text = stream.text.slice(0, body.offset) + body.text;
        return send(200, state());
      }
      const text = body.op === 'finish' ? (body.text ?? stream.text) : stream.text || '…';
      const messageBody = body.op === 'finish' && body.quickReplies
        ? { type: 'quick_replies', text, replies: body.quickReplies, ...(body.sources ? { sources: body.sources } : {}) }
        : { type: 'text', text, ...(body.op === 'finish' && body.sources ? { sources: body.sources } : {}) };
      stream.message = { seq: ++seq, id, ts: Date.now(), from: stream.from, body: messageBody, ...(body.op === 'abort' ? { incomplete: true } : {}) };
      streamLog.push({ kind: 'msg', ...stream.message });
      return send(200, state());
    }
    if (path === '/v1/conversations') return send(200, { items: [] });
    if (path === '/v1/availability') return send(200, { online: body.online });
    if (path === '/v1/dead-letters') return send(200, { items: [] });
    return send(404, { error: { code: 'NOT_FOUND', message: 'No such route.' } });
  };
  const server = await startRecordingServer<RecordedCall>({
    record: ({ method, path, headers, raw }) => ({ method, path, headers, body: raw ? JSON.parse(raw) : undefined }),
    answer,
  });
  const calls = server.received;
  const ofConversation = (id: string, kind: 'events' | 'messages') =>
    calls.filter((c) => c.method === 'POST' && c.path === `/v1/conversations/${id}/${kind}`).map((c) => c.body);
  return {
    url: server.base,
    calls,
    events: (id) => ofConversation(id, 'events').map((b) => b.event),
    messages: (id) => ofConversation(id, 'messages'),
    streamSteps: (id) =>
      calls
        .filter((c) => c.method === 'POST' && c.path.startsWith(`/v1/conversations/${id}/streams/`))
        .map((c) => ({ messageId: c.path.split('/').pop(), ...c.body })),
    close: server.close,
  };
}

let counter = 0;

/** A webhook event of the given type, with a fresh id. */
export function webhookEvent<T extends WebhookEvent['type']>(
  type: T,
  conversationId: string,
  data: Extract<WebhookEvent, { type: T }>['data'],
  visitor: WebhookEvent['visitor'] = { id: `v_${conversationId}` },
): WebhookEvent {
  return { id: `evt_test${++counter}`, type, createdAt: Date.now(), siteKey: 'pk_demo', conversationId, visitor, data } as WebhookEvent;
}

/** A visitor message event: text, postback or any visitor body. */
export function visitorMessage(conversationId: string, body: any, type: 'message.created' | 'postback' | 'handoff.requested' | 'rating.submitted' = 'message.created') {
  const id = `m${++counter}`;
  return webhookEvent(type, conversationId, { message: { seq: counter, id, ts: Date.now(), from: { role: 'visitor' }, body } } as never);
}

/** POST a webhook signed like the relay signs it; returns the status and parsed reply. */
export async function deliver(url: string, event: WebhookEvent, secret = WEBHOOK_SECRET): Promise<{ status: number; reply: any }> {
  return post(url, event.id, JSON.stringify(event), secret);
}

/** POST several events as one batch (a site with `webhookBatch`), signed like the relay signs it. */
export async function deliverBatch(url: string, events: WebhookEvent[], secret = WEBHOOK_SECRET): Promise<{ status: number; reply: any }> {
  const id = `batch_test${++counter}`;
  return post(url, id, JSON.stringify({ type: 'batch', id, events }), secret);
}

async function post(url: string, id: string, body: string, secret: string): Promise<{ status: number; reply: any }> {
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${url}/webhooks/parley`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': await signWebhook(secret, id, ts, body),
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, reply: text ? JSON.parse(text) : null };
}

/** Call the console's JSON API like the console page does. */
export async function consoleApi(url: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; data: any }> {
  const res = await fetch(url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, data: await res.json() };
}
