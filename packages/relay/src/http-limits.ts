import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { ERRORS } from '@parley/protocol';

/** Node's own timers of the HTTP server, from the relay's limits (see `buildApp`). */
export interface HttpTimeouts {
  /** Time a client has to send the request line and headers (a WebSocket upgrade included). */
  headersTimeoutMs: number;
  /** Time a client has to send a whole request, body included. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
}

/**
 * The `http` options of the Fastify factory for these timeouts. Node looks for expired requests
 * every `connectionsCheckingInterval` ms (30 s by default), so that interval is shortened to a
 * quarter of the headers timeout (at most 1 s): a slowloris client is cut within about
 * `headersTimeoutMs`, not half a minute later.
 */
export function httpServerOptions(t: HttpTimeouts): { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number; connectionsCheckingInterval: number } {
  return {
    headersTimeout: Math.min(t.headersTimeoutMs, t.requestTimeoutMs),
    requestTimeout: t.requestTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(t.headersTimeoutMs / 4))),
  };
}

/** Headers on every HTTP answer of the relay. */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
} as const;

/** A whole HTTP/1.1 answer with a JSON body, for a socket no request object was made for. */
export function rawResponse(status: number, body: string, extra: Record<string, string> = {}): string {
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'content-type: application/json; charset=utf-8', 'connection: close', `content-length: ${Buffer.byteLength(body)}`];
  for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, ...extra })) head.push(`${name}: ${value}`);
  return head.join('\r\n') + '\r\n\r\n' + body;
}

const REFUSED = rawResponse(429, JSON.stringify({ error: { code: 'RATE_LIMITED', message: ERRORS.RATE_LIMITED.message } }), { 'retry-after': '5' });

/**
 * Cap the plain HTTP connections one address holds at once: connections still sending their
 * headers, waiting for an upgrade, or kept alive. A WebSocket stops counting once upgraded (the
 * widget socket's own per-IP cap takes over). Over the cap, a new connection is answered 429 with
 * the relay's error body and closed before anything of it is parsed. Counted by TCP peer address:
 * behind a proxy every connection comes from the proxy, so the CLI leaves this off with
 * `trustProxy` and the proxy's own limits apply.
 */
export function capConnectionsPerIp(server: Server, maxPerIp: number, onRefused: (ip: string) => void): void {
  const open = new Map<string, number>();
  const counted = new WeakSet<Socket>();
  const release = (socket: Socket) => {
    if (!counted.delete(socket)) return;
    const ip = socket.remoteAddress ?? '';
    const n = (open.get(ip) ?? 1) - 1;
    if (n > 0) open.set(ip, n);
    else open.delete(ip);
  };
  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? '';
    const n = open.get(ip) ?? 0;
    if (n >= maxPerIp) {
      onRefused(ip);
      socket.on('error', () => {});
      socket.end(REFUSED);
      // A client that never reads its answer is not waited for.
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    open.set(ip, n + 1);
    counted.add(socket);
    socket.once('close', () => release(socket));
  });
  server.on('upgrade', (_req: unknown, socket: Socket) => release(socket));
}
