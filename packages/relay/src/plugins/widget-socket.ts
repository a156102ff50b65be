import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { CLOSE } from '@parley/protocol';
import { Connection, type SocketContext } from '../connection.js';
import { isEngineUnavailable } from '../engine/types.js';
import { httpError } from '../errors.js';

export interface WidgetSocketOptions {
  ctx: SocketContext;
}

/** Frames a socket may send before it knows it has a slot; a widget sends one (hello). */
const MAX_EARLY_FRAMES = 16;

/**
 * The widget socket at `/v1/widget`: per-IP connection cap (a slot of the engine's, shared by
 * every relay instance on it), hello and idle timeouts, and a clean close (CLOSE.GOING_AWAY) of
 * every socket when the app closes.
 */
export async function widgetSocketPlugin(app: FastifyInstance, opts: WidgetSocketOptions): Promise<void> {
  const { ctx } = opts;
  const { limits } = ctx;
  const connections = new Set<Connection>();

  await app.register(websocket, {
    // Frames between the relay's cap and this hard cap get a TOO_LARGE error frame and
    // CLOSE.FRAME_TOO_LARGE; anything bigger is cut by ws itself (close 1009).
    options: { maxPayload: Math.max(limits.maxFrameBytes * 4, 64 * 1024) },
    // A socket's protocol errors (WS_ERR_*) are the client's: counted and logged at debug by the
    // socket's own listener. Anything else is a fault of the relay.
    errorHandler: (err: Error & { code?: string }, socket) => {
      if (!err.code?.startsWith('WS_ERR_')) ctx.log.error({ err }, 'widget socket handler failed');
      socket.terminate();
    },
    preClose: async () => {
      for (const conn of connections) conn.fail('NOT_READY', CLOSE.GOING_AWAY, 'The relay is shutting down.');
      const deadline = Date.now() + ctx.closeGraceMs;
      while (connections.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const server = app.websocketServer;
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });

  app.route({
    method: 'GET',
    url: '/v1/widget',
    // A plain GET (no Upgrade) gets the error envelope, not an empty 404.
    handler: async (_req, reply) => {
      void reply.header('upgrade', 'websocket');
      throw httpError('UPGRADE_REQUIRED');
    },
    wsHandler: (socket, req) => {
      const ip = req.ip;
      const origin = req.headers.origin;
      const conn = new Connection(ctx, socket, ip, origin);
      const slot = `conn:${ip}`;
      connections.add(conn);
      ctx.metrics.hot.connections++;
      // Frames wait here until the engine has answered whether the address may hold another socket.
      let early: Array<{ data: unknown; binary: boolean }> | null = [];
      let held = false;
      let gone = false;
      const release = (): void => {
        if (!held) return;
        held = false;
        ctx.engine.releaseSlot(slot).catch((err: unknown) => ctx.log.warn({ err }, 'releasing a connection slot failed'));
      };
      socket.on('message', (data, binary) => {
        if (!early) conn.onFrame(data, binary);
        else if (!conn.isClosed && early.push({ data, binary }) > MAX_EARLY_FRAMES) conn.fail('RATE_LIMITED', CLOSE.RATE_LIMITED);
      });
      // Invalid UTF-8, bad framing, a frame over the cap: the client's fault, counted, never a stack in the log.
      socket.on('error', (err: Error & { code?: string }) => {
        ctx.metrics.clientErrors.inc({ kind: 'websocket' });
        ctx.log.debug({ code: err.code }, 'widget socket protocol error');
      });
      socket.on('close', () => {
        gone = true;
        conn.onClosed();
        connections.delete(conn);
        ctx.metrics.hot.connections--;
        release();
      });
      ctx.engine.acquireSlot(slot, limits.maxConnectionsPerIp).then(
        (ok) => {
          if (!ok) return conn.fail('TOO_MANY_CONNECTIONS', CLOSE.TOO_MANY_CONNECTIONS);
          held = true;
          if (gone) return release();
          const frames = early ?? [];
          early = null;
          for (const { data, binary } of frames) conn.onFrame(data, binary);
        },
        (err: unknown) => {
          const unavailable = isEngineUnavailable(err);
          if (!unavailable) ctx.log.error({ err }, 'taking a connection slot failed');
          conn.fail(unavailable ? 'NOT_READY' : 'INTERNAL', CLOSE.GOING_AWAY);
        },
      );
    },
  });

  // One sweep for every socket instead of a timer per socket.
  const every = Math.min(5000, Math.max(10, Math.floor(Math.min(limits.helloTimeoutMs, limits.idleTimeoutMs) / 4)));
  const sweeper = setInterval(() => {
    const now = ctx.now();
    for (const conn of connections) {
      if (conn.isClosed) continue;
      if (!conn.helloDone && now - conn.openedAt >= limits.helloTimeoutMs) conn.fail('HELLO_TIMEOUT', CLOSE.HELLO_TIMEOUT);
      else if (now - conn.lastFrameAt >= limits.idleTimeoutMs) conn.fail('IDLE_TIMEOUT', CLOSE.IDLE_TIMEOUT);
    }
  }, every);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
}
