// Test harness: a relay on port 0, a recording merchant backend on port 0, and a `ws` client
// that records every frame it receives.
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, WebhookEvent, check, decodeServerFrame, type Message, type ServerFrame } from '@parley/protocol';
import { buildApp, type BuildAppOptions } from '../app.js';
import type { RelayConfigInput } from '../config.js';
import { startRecordingServer, type Answer } from '../../../../test/support/recording-server.js';

export const ORIGIN = 'https://shop.example';
export const WEBHOOK_SECRET = 'whsec_' + Buffer.from('test-webhook-secret-32-bytes-xx!').toString('base64');
export const WEBHOOK_SECRET_2 = 'whsec_' + Buffer.from('second-webhook-secret-32-bytes!!').toString('base64');
export const API_SECRET = 'api_secret_one_0123456789';
export const API_SECRET_2 = 'api_secret_two_0123456789';
export const IDENTITY_SECRET = 'identity_secret_0123456789';

export interface Recorded {
  headers: IncomingHttpHeaders;
  raw: string;
  json: WebhookEvent;
}

/** What the backend answers a webhook: see `Answer` of the shared recording server. */
export type BackendAnswer = Answer;

/** A merchant backend that records every webhook; `answer` decides each response. */
export async function startBackend(answer: (req: Recorded, index: number) => BackendAnswer = () => ({ status: 204 })) {
  const server = await startRecordingServer<Recorded>({
    // Every delivery must be a valid webhook event; anything else fails the run.
    record: ({ headers, raw }) => {
      const parsed = check(WebhookEvent, raw ? JSON.parse(raw) : undefined);
      if (!parsed.ok) throw new Error(`relay sent an invalid webhook: ${parsed.message}`);
      return { headers, raw, json: parsed.value };
    },
    answer,
  });
  return {
    url: `${server.base}/webhooks/parley`,
    received: server.received,
    /** TCP connections the relay opened to this backend so far. */
    connections: server.connections,
    /** Resolves once `n` requests (or one matching `pred`) have arrived. */
    waitFor: server.waitFor,
    close: server.close,
  };
}

/** The message a webhook event carries, if it carries one. */
export function messageOf(event: WebhookEvent): Message | undefined {
  return 'message' in event.data ? event.data.message : undefined;
}

export function testConfig(webhookUrl: string, overrides: Partial<RelayConfigInput> = {}): RelayConfigInput {
  return {
    tokenSecret: 'token-secret-for-tests-0123456789abcdef',
    engine: { type: 'memory' },
    logLevel: 'silent',
    sites: [
      {
        siteKey: 'pk_test',
        name: 'Test Shop',
        allowedOrigins: [ORIGIN],
        webhookUrl,
        webhookSecret: WEBHOOK_SECRET,
        apiSecret: API_SECRET,
        identitySecret: IDENTITY_SECRET,
        greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
      },
      {
        siteKey: 'pk_other',
        name: 'Other Shop',
        allowedOrigins: ['*'],
        webhookUrl,
        webhookSecret: WEBHOOK_SECRET_2,
        apiSecret: API_SECRET_2,
      },
    ],
    ...overrides,
  };
}

/** A relay listening on 127.0.0.1, port 0. */
export async function startRelay(config: RelayConfigInput, options: BuildAppOptions = {}) {
  const app = buildApp(config, { logger: false, webhooks: { pollMs: 50, ...options.webhooks }, closeGraceMs: 200, ...options });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    app,
    base,
    wsUrl: `ws://127.0.0.1:${port}/v1/widget`,
    /** A REST call with a site's API secret. */
    async api(method: string, path: string, body?: unknown, secret = API_SECRET): Promise<{ status: number; json: any }> {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${secret}` } };
      if (body !== undefined) {
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const res = await fetch(base + path, init);
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    },
    close: () => app.close(),
  };
}

/**
 * A recording backend and a relay sending it webhooks, each closed through `track` (a test's
 * cleanup list), with `open` for widget sockets (closed the same way) and the relay's port.
 */
export async function startStack(track: (cleanup: () => Promise<void> | void) => void, options: BuildAppOptions = {}, overrides: Partial<RelayConfigInput> = {}) {
  const backend = await startBackend();
  track(backend.close);
  const relay = await startRelay(testConfig(backend.url, overrides), options);
  track(relay.close);
  const open = async (origin: string | null = ORIGIN) => {
    const c = await TestClient.open(relay.wsUrl, origin);
    track(() => c.close());
    return c;
  };
  return { backend, relay, open, port: Number(new URL(relay.base).port) };
}

/** A `ws` client recording every frame; `take` consumes the first unconsumed frame matching. */
export class TestClient {
  readonly frames: ServerFrame[] = [];
  private readonly consumed = new Set<number>();
  private readonly waiters = new Set<() => void>();
  closed: { code: number; reason: string } | undefined;
  readonly whenClosed: Promise<{ code: number; reason: string }>;
  readonly ws: WebSocket;

  constructor(url: string, origin: string | null = ORIGIN, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(url, { ...(origin ? { origin } : {}), headers });
    this.ws.on('message', (data) => {
      const r = decodeServerFrame(data.toString());
      if (!r.ok) throw new Error(`relay sent an invalid frame: ${r.message}: ${data.toString().slice(0, 200)}`);
      this.frames.push(r.frame);
      this.wake();
    });
    this.ws.on('error', () => {});
    this.whenClosed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        resolve(this.closed);
        this.wake();
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  static async open(url: string, origin: string | null = ORIGIN, headers?: Record<string, string>): Promise<TestClient> {
    const c = new TestClient(url, origin, headers);
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Send hello and wait for welcome (or throw with the error frame). */
  async hello(extra: Record<string, unknown> = {}): Promise<Extract<ServerFrame, { t: 'welcome' }>> {
    this.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', ...extra });
    const f = await this.take((f) => f.t === 'welcome' || f.t === 'error');
    if (f.t !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(f)}`);
    return f;
  }

  /** The first unconsumed frame matching `pred`, waiting up to `timeoutMs`. */
  async take<T extends ServerFrame['t']>(pred: T, timeoutMs?: number): Promise<Extract<ServerFrame, { t: T }>>;
  async take(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  async take(pred: ServerFrame['t'] | ((f: ServerFrame) => boolean), timeoutMs = 5000): Promise<ServerFrame> {
    const match = typeof pred === 'string' ? (f: ServerFrame) => f.t === pred : pred;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f, i) => !this.consumed.has(i) && match(f));
      if (i >= 0) {
        this.consumed.add(i);
        return this.frames[i]!;
      }
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) before the expected frame; got ${JSON.stringify(this.frames)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for a frame; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((r) => {
        const done = () => {
          this.waiters.delete(done);
          r();
        };
        this.waiters.add(done);
        setTimeout(done, 50);
      });
    }
  }

  /** Messages (`msg` frames) received so far, in arrival order. */
  msgs(): Extract<ServerFrame, { t: 'msg' }>[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { t: 'msg' }> => f.t === 'msg');
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return Promise.race([
      this.whenClosed,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket not closed; got ${JSON.stringify(this.frames)}`)), timeoutMs)),
    ]);
  }

  close(): void {
    this.ws.close();
  }
}

/** Poll until `fn` returns a truthy value. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
