// The in-memory test level: a relay that never listens. REST goes through `app.inject`, widget
// sockets through `@fastify/websocket`'s `injectWS`, on the memory engine and a clock the test
// moves. For logic that needs no real socket; end-to-end behaviour stays on port 0 (harness.ts).
import type { Socket } from 'node:net';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { WebSocket } from 'ws';
import { PROTOCOL_VERSION, decodeServerFrame, type ServerFrame } from '@parley/protocol';
import { buildApp, type BuildAppOptions } from '../app.js';
import type { RelayConfigInput } from '../config.js';
import { API_SECRET, ORIGIN, testConfig } from './harness.js';

/** The address injected requests and sockets come from unless a test names another. */
export const CLIENT_IP = '192.0.2.10';

/** A decoded REST answer. */
interface Answer {
  status: number;
  headers: LightMyRequestResponse['headers'];
  text: string;
  // The body as the relay sent it; tests compare it to literal shapes.
  json: any;
}

export interface InjectRelayOptions extends BuildAppOptions {
  /** Top-level config keys to replace (`trustProxy`, `metrics`, …). */
  config?: Partial<RelayConfigInput>;
  /** Changes to the pk_test site. */
  site?: Partial<RelayConfigInput['sites'][number]>;
}

/**
 * A relay built in memory on the sites of `testConfig` (pk_test on ORIGIN, pk_other on any
 * origin). Their events wait for a backend socket (`backendSocket: 'only'`), so nothing leaves
 * the process. The clock starts frozen at `clock.now` and moves only with `clock.advance`.
 */
export async function injectRelay(options: InjectRelayOptions = {}) {
  const { config: overrides = {}, site = {}, ...appOptions } = options;
  const base = testConfig('http://127.0.0.1:9/unused');
  const sites = base.sites.map((s) => ({ ...s, backendSocket: 'only' as const, ...(s.siteKey === 'pk_test' ? site : {}) }));
  const config: RelayConfigInput = { ...base, sites, ...overrides };
  const clock = {
    now: 1_800_000_000_000,
    advance(ms: number): void {
      clock.now += ms;
    },
  };
  const app = buildApp(config, { logger: false, now: () => clock.now, closeGraceMs: 20, ...appOptions });
  // The widget socket plugin registers @fastify/websocket in its own scope: `injectWS` is
  // decorated there, not on the root instance. The scope that declares `/v1/widget` has it.
  let socketScope: FastifyInstance | undefined;
  app.addHook('onRoute', function (this: FastifyInstance, route) {
    if (route.url === '/v1/widget') socketScope = this;
  });
  await app.ready();
  const sockets: InjectedSocket[] = [];

  /** A REST call; the site's API secret unless `secret` says otherwise (null: none). */
  async function api(method: InjectOptions['method'], url: string, body?: unknown, secret: string | null = API_SECRET): Promise<Answer> {
    const headers: Record<string, string> = secret === null ? {} : { authorization: `Bearer ${secret}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return request({ method, url, headers, remoteAddress: CLIENT_IP, ...(payload === undefined ? {} : { payload }) });
  }

  /** Any request, decoded. */
  async function request(opts: InjectOptions): Promise<Answer> {
    const res = await app.inject(opts);
    let json: unknown;
    try {
      json = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, json };
  }

  /** A widget socket from `ip`, with `origin` as its Origin header (null: none). */
  async function socket(origin: string | null = ORIGIN, ip = CLIENT_IP): Promise<InjectedSocket> {
    const context = {
      headers: origin === null ? {} : { origin },
      // The client address Fastify reads as `req.ip` (per-address caps and throttles).
      socket: { remoteAddress: ip } as Socket,
    };
    let s: InjectedSocket | undefined;
    // Listen from the start: the relay may answer (or refuse) before the open promise resolves.
    await socketScope!.injectWS('/v1/widget', context, { onInit: (ws) => void (s = new InjectedSocket(ws)) });
    sockets.push(s!);
    return s!;
  }

  return {
    app,
    clock,
    api,
    request,
    socket,
    async close(): Promise<void> {
      for (const s of sockets) s.ws.terminate();
      await app.close();
    },
  };
}

/** A client socket of `injectWS` that records every frame; `take` consumes the first unconsumed match. */
export class InjectedSocket {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly consumed = new Set<number>();
  private readonly waiters = new Set<() => void>();

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const r = decodeServerFrame(data.toString());
      if (!r.ok) throw new Error(`relay sent an invalid frame: ${r.message}: ${data.toString().slice(0, 200)}`);
      this.frames.push(r.frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with what `ready` returns once it returns something, or rejects with `what` and the frames seen after `timeoutMs`. */
  private until<T>(ready: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let value: T | undefined;
        try {
          value = ready();
        } catch (err) {
          done();
          reject(err as Error);
          return;
        }
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}; got ${JSON.stringify(this.frames)}${this.closed ? `, closed ${this.closed.code}` : ''}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => check();
      this.waiters.add(waiter);
      check();
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first unconsumed frame matching `pred`. */
  take<T extends ServerFrame['t']>(pred: T, timeoutMs?: number): Promise<Extract<ServerFrame, { t: T }>>;
  take(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  take(pred: ServerFrame['t'] | ((f: ServerFrame) => boolean), timeoutMs = 2000): Promise<ServerFrame> {
    const match = typeof pred === 'string' ? (f: ServerFrame) => f.t === pred : pred;
    return this.until(
      () => {
        const i = this.frames.findIndex((f, i) => !this.consumed.has(i) && match(f));
        if (i < 0) {
          if (this.closed) throw new Error(`socket closed (${this.closed.code}) before the expected frame; got ${JSON.stringify(this.frames)}`);
          return undefined;
        }
        this.consumed.add(i);
        return this.frames[i]!;
      },
      'no such frame in time',
      timeoutMs,
    );
  }

  /** Send hello (pk_test unless `extra` names another site) and resolve with the welcome, or throw with the refusal. */
  async hello(extra: Record<string, unknown> = {}): Promise<Extract<ServerFrame, { t: 'welcome' }>> {
    this.send({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', ...extra });
    const f = await this.take((f) => f.t === 'welcome' || f.t === 'error');
    if (f.t !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(f)}`);
    return f;
  }

  /** The close code and reason, once the relay has closed the socket. */
  waitClosed(timeoutMs = 2000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed, 'socket not closed in time', timeoutMs);
  }

  /** The frames received so far, as `t` (or the code of an error frame). */
  kinds(): string[] {
    return this.frames.map((f) => (f.t === 'error' ? f.code : f.t));
  }
}
