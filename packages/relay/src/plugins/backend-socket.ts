import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import { CLOSE, MAX_BACKEND_FRAME_BYTES } from '@parley/protocol';
import type { AuthThrottle } from '../auth-throttle.js';
import { apiSecretAuth, authenticateBackend } from '../backend-auth.js';
import type { BackendSockets } from '../backend-socket.js';
import type { SiteConfig } from '../config.js';
import { CodedError } from '../errors.js';

export interface BackendSocketPluginOptions {
  sites: readonly SiteConfig[];
  sockets: BackendSockets;
  /** Failed API secrets per address. */
  authThrottle: AuthThrottle;
  /** A socket that has not answered the last ping by the next one is cut. Default 30 s. */
  pingMs?: number;
  /** Grace given to closing sockets on shutdown before they are cut. Default 1000 ms. */
  closeGraceMs?: number;
}

const NO_HEAD = Buffer.alloc(0);

/**
 * The backend socket at `/v1/backend`. The upgrade request carries `Authorization: Bearer
 * <apiSecret>`; a missing or wrong secret is refused before the upgrade with HTTP 401 and the
 * REST error body (`UNAUTHORIZED`), a site whose mode is `off` with 403 (`BACKEND_SOCKET_OFF`).
 *
 * The upgrade is done here with a `ws` server of its own (the widget socket's server keeps its
 * own frame cap and shutdown), so backend frames get the REST body limit.
 */
export async function backendSocketPlugin(app: FastifyInstance, opts: BackendSocketPluginOptions): Promise<void> {
  const { sockets } = opts;
  const siteOf = apiSecretAuth(opts.sites);
  // Frames between the 64 KiB cap and this hard cap get a TOO_LARGE error frame and
  // CLOSE.FRAME_TOO_LARGE; anything bigger is cut by ws itself (close 1009).
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BACKEND_FRAME_BYTES * 4 });

  app.get('/v1/backend', async (req, reply) => {
    const site = await authenticateBackend(siteOf, opts.authThrottle, req, reply);
    if (site.backendSocket === 'off') throw new CodedError('BACKEND_SOCKET_OFF');
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') throw new CodedError('BAD_REQUEST', 'Open a WebSocket here (Upgrade: websocket).');
    reply.hijack();
    wss.handleUpgrade(req.raw, req.raw.socket, NO_HEAD, (ws) => {
      ws.on('error', (err) => req.log.debug({ err }, 'backend socket error'));
      let alive = true;
      ws.on('pong', () => (alive = true));
      const ping = setInterval(() => {
        if (!alive) return ws.terminate();
        alive = false;
        ws.ping();
      }, opts.pingMs ?? 30_000);
      ping.unref();
      ws.on('close', () => clearInterval(ping));
      sockets.connect(site, ws);
      req.log.info({ siteKey: site.siteKey, sockets: sockets.count(site.siteKey) }, 'backend socket connected');
    });
  });

  // A refused upgrade has had its answer: its connection is not reused.
  app.addHook('onResponse', async (req) => {
    if (req.headers.upgrade) req.raw.socket.destroy();
  });

  app.addHook('preClose', async () => {
    for (const link of sockets.all()) link.close(CLOSE.GOING_AWAY, 'NOT_READY');
    const deadline = Date.now() + (opts.closeGraceMs ?? 1000);
    while (wss.clients.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
}
