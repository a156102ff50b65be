// Test support: a stand-in relay that records REST calls, and signed webhook deliveries.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signWebhook, type WebhookEvent } from '@parley/protocol';

export const API_SECRET = 'sk_test_demo_backend_0123456789';
export const WEBHOOK_SECRET = 'whsec_' + Buffer.from('demo-backend-test-webhook-secret').toString('base64');

export interface RecordedCall {
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
  close(): Promise<void>;
}

/** A relay on port 0 that answers the REST API per the contract and records every call. */
export async function startFakeRelay(): Promise<FakeRelay> {
  const calls: RecordedCall[] = [];
  const logs = new Map<string, any[]>();
  let seq = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://relay.local');
      const body = raw ? JSON.parse(raw) : undefined;
      calls.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body });
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.headers.authorization !== `Bearer ${API_SECRET}`) return send(401, { error: { code: 'UNAUTHORIZED', message: 'The API secret is missing or wrong.' } });
      const m = /^\/v1\/conversations\/([\w-]+)\/(messages|events)$/.exec(url.pathname);
      const log = m ? (logs.get(m[1]!) ?? logs.set(m[1]!, []).get(m[1]!)!) : [];
      if (m && req.method === 'POST' && m[2] === 'messages') {
        const message = { seq: ++seq, id: body.id, ts: Date.now(), from: body.from ?? { role: 'bot' }, body: body.body };
        log.push({ kind: 'msg', ...message });
        return send(201, { message, duplicate: false });
      }
      if (m && req.method === 'POST' && m[2] === 'events') {
        if (['typing', 'read', 'availability'].includes(body.event.type)) return send(200, { duplicate: false });
        const entry = { kind: 'event', seq: ++seq, id: body.id ?? `e${seq}`, ts: Date.now(), event: body.event };
        log.push(entry);
        return send(200, { seq: entry.seq, duplicate: false });
      }
      if (m && req.method === 'GET') return send(200, { entries: log, lastSeq: log.at(-1)?.seq ?? 0, hasMore: false });
      if (url.pathname === '/v1/conversations') return send(200, { items: [] });
      if (url.pathname === '/v1/availability') return send(200, { online: body.online });
      if (url.pathname === '/v1/dead-letters') return send(200, { items: [] });
      send(404, { error: { code: 'NOT_FOUND', message: 'No such route.' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const ofConversation = (id: string, kind: 'events' | 'messages') =>
    calls.filter((c) => c.method === 'POST' && c.path === `/v1/conversations/${id}/${kind}`).map((c) => c.body);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    events: (id) => ofConversation(id, 'events').map((b) => b.event),
    messages: (id) => ofConversation(id, 'messages'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
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
  const body = JSON.stringify(event);
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${url}/webhooks/parley`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': event.id,
      'webhook-timestamp': String(ts),
      'webhook-signature': await signWebhook(secret, event.id, ts, body),
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
