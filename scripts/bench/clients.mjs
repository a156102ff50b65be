// The visitors the side-by-side bench drives each server with, all in one shape: `open()` a
// socket (a connection `conn`), `send(conn)` one message and resolve with the milliseconds until
// it is done — its ack (or echo), or on the bot path the bot's reply. Socket.IO's visitors live in
// packages/bench (socketio-visitor.mjs), beside its client library.
import WebSocket from 'ws';
import { ORIGIN, nextMessageId, replyId, sendFrame } from './constants.mjs';

/** Opens a socket; `onMessage`, when given, is attached before it opens (a server may speak first). */
function openSocket(url, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin: ORIGIN, perMessageDeflate: false });
    if (onMessage) ws.on('message', (data) => onMessage(ws, data));
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {});
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

/** Closes a connection and resolves once its socket is closed. */
function closeConn(conn) {
  if (conn.close) {
    conn.close();
    return conn.closed;
  }
  if (conn.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  const closed = new Promise((r) => conn.ws.once('close', r));
  conn.ws.close();
  return closed;
}

export const closeAll = (conns) => Promise.all(conns.map(closeConn));

/** Opens `n` connections with `open()`, `batch` at a time. */
export async function openMany(open, n, batch = 200) {
  const out = [];
  for (let i = 0; i < n; i += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - i) }, () => open()))));
  }
  return out;
}

/**
 * Widgets of the relay on `port`, site `siteKey`: a connection is ready once `hello` got
 * `welcome`; a message is `send`, done at its `ack` — or, with `bot`, at the bot's reply `msg`.
 */
export function relayVisitors({ port, siteKey, bot = false }) {
  const url = `ws://127.0.0.1:${port}/v1/widget`;
  return {
    /** A widget; `token` and `lastSeq` resume an earlier conversation. `welcome` is the relay's greeting frame. */
    async open({ token, lastSeq } = {}) {
      const ws = await openSocket(url);
      const conn = { ws, waiting: new Map(), lastSeq: lastSeq ?? 0, caughtUp: undefined };
      conn.welcome = await new Promise((resolve, reject) => {
        ws.on('message', (data) => {
          const f = JSON.parse(data.toString());
          if (f.t === 'welcome') {
            conn.token = f.token;
            conn.conversationId = f.conversationId;
            conn.target = f.lastSeq;
            resolve(f);
          } else if (f.t === 'ack') {
            if (!bot) conn.waiting.get(f.id)?.();
          } else if (f.t === 'msg') {
            if (f.seq > conn.lastSeq) conn.lastSeq = f.seq;
            if (bot) conn.waiting.get(f.id)?.();
          } else if (f.t === 'error' && !conn.token) {
            reject(new Error(`hello refused: ${data.toString().slice(0, 200)}`));
          }
          if (conn.caughtUp && conn.target !== undefined && conn.lastSeq >= conn.target) conn.caughtUp();
        });
        ws.once('close', (code) => reject(new Error(`socket closed before welcome (${code})`)));
        ws.send(JSON.stringify({ t: 'hello', v: 1, siteKey, ...(token ? { token, lastSeq: lastSeq ?? 0 } : {}) }));
      });
      return conn;
    },
    /** Resolves once the widget holds every message up to the `lastSeq` its `welcome` announced. */
    caughtUp(conn) {
      if (conn.lastSeq >= conn.target) return Promise.resolve();
      return new Promise((resolve) => (conn.caughtUp = resolve));
    },
    send(conn) {
      return new Promise((resolve) => {
        const id = nextMessageId();
        const key = bot ? replyId(id) : id;
        const t0 = performance.now();
        conn.waiting.set(key, () => {
          conn.waiting.delete(key);
          resolve(performance.now() - t0);
        });
        conn.ws.send(sendFrame(id));
      });
    },
  };
}

/**
 * Clients of the bare `ws` server on `port`: on `/echo` a message is the relay's `send` frame and
 * done at its echo; with `bot`, on `/bot`, done at the bot's reply.
 */
export function bareVisitors({ port, bot = false }) {
  const url = `ws://127.0.0.1:${port}/${bot ? 'bot' : 'echo'}`;
  return {
    async open() {
      const ws = await openSocket(url);
      const conn = { ws, waiting: new Map() };
      ws.on('message', (data) => {
        if (!bot) return conn.waiting.get('echo')?.();
        const f = JSON.parse(data.toString());
        conn.waiting.get(f.id)?.();
      });
      return conn;
    },
    send(conn) {
      return new Promise((resolve) => {
        const id = nextMessageId();
        const key = bot ? replyId(id) : 'echo';
        const t0 = performance.now();
        conn.waiting.set(key, () => {
          conn.waiting.delete(key);
          resolve(performance.now() - t0);
        });
        conn.ws.send(sendFrame(id));
      });
    },
  };
}

/**
 * A bare Socket.IO connection without its client library (which costs the load generator tens of
 * KB per socket): the Engine.IO v4 handshake over a WebSocket, then the namespace connect with the
 * conversation in `auth`; ready at the server's `40`. It answers the server's pings, so the server
 * holds exactly what it holds for a `socket.io-client` socket. For the memory and catch-up figures,
 * where thousands of idle sockets are opened.
 */
export async function openRawSocketIo(port, conversation) {
  let settle;
  const connected = new Promise((resolve, reject) => (settle = { resolve, reject }));
  const ws = await openSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, (socket, data) => {
    const text = data.toString();
    if (text[0] === '0') socket.send(`40${JSON.stringify({ conversation })}`);
    else if (text === '2') socket.send('3');
    else if (text.startsWith('40')) settle.resolve();
    else if (text.startsWith('44')) settle.reject(new Error(`Socket.IO refused the connection: ${text}`));
  });
  ws.once('close', (code) => settle.reject(new Error(`socket closed before connect (${code})`)));
  await connected;
  return { ws };
}

/** A bare `ws` connection, ready at `open`. */
export async function openBare(port) {
  return { ws: await openSocket(`ws://127.0.0.1:${port}/echo`) };
}
