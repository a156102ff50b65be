import type { Socket } from 'node:net';
import { ServerResponse } from 'node:http';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { CLOSE } from '@parley/protocol';
import { Connection, type SocketContext } from '../connection.js';
import { isEngineUnavailable } from '../engine/types.js';
import { CodedError } from '../errors.js';

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
  const shared: Shared = { ctx, connections };

  await app.register(websocket, {
    // Frames between the relay's cap and this hard cap get a TOO_LARGE error frame and
    // CLOSE.FRAME_TOO_LARGE; anything bigger is cut by ws itself (close 1009).
    // No client tracking of ws's own (a closure and a Set entry per socket): `connections` holds them.
    options: { maxPayload: Math.max(limits.maxFrameBytes * 4, 64 * 1024), clientTracking: false },
    // A fault of the handler itself; the socket's own errors go to its `error` listener (SocketState.error).
    errorHandler: (err: Error & { code?: string }, socket) => socketError(ctx, err, socket),
    preClose: async () => {
      for (const conn of connections) conn.fail('NOT_READY', 'The relay is shutting down.');
      const deadline = Date.now() + ctx.closeGraceMs;
      while (connections.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const conn of connections) conn.terminate();
      await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
    },
  });

  app.route({
    method: 'GET',
    url: '/v1/widget',
    // A plain GET (no Upgrade) gets the error envelope, not an empty 404.
    handler: async (_req, reply) => {
      void reply.header('upgrade', 'websocket');
      throw new CodedError('UPGRADE_REQUIRED');
    },
    wsHandler: (socket, req) => {
      const { ip } = req;
      const conn = new Connection(ctx, socket, ip, req.headers.origin);
      releaseUpgrade(socket);
      const state = new SocketState(shared, conn, ip);
      (socket as Tracked)[kState] = state;
      socket.on('message', onMessage);
      socket.on('close', onClose);
      socket.on('error', onError);
      connections.add(conn);
      ctx.metrics.hot.connections++;
      ctx.engine.acquireSlot(state.slot, limits.maxConnectionsPerIp).then(
        (ok) => state.admit(ok),
        (err: unknown) => {
          const unavailable = isEngineUnavailable(err);
          if (!unavailable) ctx.log.error({ err }, 'taking a connection slot failed');
          conn.failWith(unavailable ? 'NOT_READY' : 'INTERNAL', CLOSE.GOING_AWAY); // INTERNAL closes like NOT_READY: the client retries
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
      if (!conn.helloDone && now - conn.openedAt >= limits.helloTimeoutMs) conn.fail('HELLO_TIMEOUT');
      else if (now - conn.lastFrameAt >= limits.idleTimeoutMs) conn.fail('IDLE_TIMEOUT');
    }
  }, every);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
}

/** What every socket of the plugin shares. */
interface Shared {
  ctx: SocketContext;
  connections: Set<Connection>;
}

const kState = Symbol('widget socket state');
type Tracked = WebSocket & { [kState]?: SocketState };

/**
 * What the plugin keeps per socket, kept on the socket itself and read by listeners shared by
 * every socket: an idle widget holds no closures of its own.
 */
class SocketState {
  /** Frames that arrived before the engine answered whether the address may hold another socket. */
  private early: Array<{ data: unknown; binary: boolean }> | undefined;
  private admitted = false;
  /** The address's connection slot is held, to be released when the socket goes. */
  private held = false;
  private gone = false;

  constructor(
    private readonly shared: Shared,
    readonly conn: Connection,
    private readonly ip: string,
  ) {}

  /** The engine's per-IP connection slot (shared by every relay instance on it). */
  get slot(): string {
    return `conn:${this.ip}`;
  }

  message(data: unknown, binary: boolean): void {
    const { conn } = this;
    if (this.admitted) conn.onFrame(data, binary);
    else if (!conn.isClosed && (this.early ??= []).push({ data, binary }) > MAX_EARLY_FRAMES) conn.fail('RATE_LIMITED');
  }

  /** The engine answered: the socket may stay (its early frames are handled now), or the address holds too many. */
  admit(ok: boolean): void {
    if (!ok) return this.conn.fail('TOO_MANY_CONNECTIONS');
    this.held = true;
    if (this.gone) return this.release();
    this.admitted = true;
    const frames = this.early ?? [];
    this.early = undefined;
    for (const { data, binary } of frames) this.conn.onFrame(data, binary);
  }

  closed(): void {
    const { ctx, connections } = this.shared;
    this.gone = true;
    this.early = undefined;
    this.conn.onClosed();
    connections.delete(this.conn);
    ctx.metrics.hot.connections--;
    this.release();
  }

  /** Invalid UTF-8, bad framing, a frame over the cap: the client's fault, counted. */
  error(err: Error & { code?: string }, socket: WebSocket): void {
    const { ctx } = this.shared;
    ctx.metrics.clientErrors.inc({ kind: 'websocket' });
    ctx.log.debug({ code: err.code }, 'widget socket protocol error');
    socketError(ctx, err, socket);
  }

  private release(): void {
    if (!this.held) return;
    this.held = false;
    const { ctx } = this.shared;
    ctx.engine.releaseSlot(this.slot).catch((err: unknown) => ctx.log.warn({ err }, 'releasing a connection slot failed'));
  }
}

function onMessage(this: Tracked, data: unknown, binary: boolean): void {
  this[kState]?.message(data, binary);
}

function onClose(this: Tracked): void {
  this[kState]?.closed();
}

function onError(this: Tracked, err: Error): void {
  this[kState]?.error(err, this);
}

/**
 * A socket's protocol errors (WS_ERR_*) are the client's, never a stack in the log; anything else
 * is a fault of the relay. Either way the socket is cut.
 */
function socketError(ctx: SocketContext, err: Error & { code?: string }, socket: WebSocket): void {
  if (!err.code?.startsWith('WS_ERR_')) ctx.log.error({ err }, 'widget socket handler failed');
  socket.terminate();
}

/**
 * Let the upgrade request go once the socket is open, so an idle widget costs its socket and
 * little more. Left alone, the HTTP response made for the upgrade stays attached to the TCP stream
 * (`_httpMessage`), and the plugin's `error` listener closes over the Fastify request and reply:
 * both keep the request, its headers, the reply and a child logger alive for the life of the
 * socket (about 2 KB a widget). The caller adds an `error` listener that does what it did.
 */
function releaseUpgrade(socket: WebSocket): void {
  const stream = (socket as unknown as { _socket?: Socket & { _httpMessage?: unknown; _peername?: unknown } })._socket;
  const res = stream?._httpMessage;
  if (stream && res instanceof ServerResponse && res.socket === stream) res.detachSocket(stream);
  // The address was read (req.ip) and net keeps it on the stream: an object and a string, about 90 B
  // a widget. The SocketState has the address; net asks the kernel again should anything read it.
  if (stream && stream._peername !== undefined) stream._peername = undefined;
  socket.removeAllListeners('error');
}
