// Visitors of the Socket.IO chat server (socketio-chat-server.mjs), in the shape the side-by-side
// bench drives every server with: `open()` a socket, `send(conn)` one message and resolve with the
// milliseconds until it is done — its ack, or (bot visitors) the bot's reply.
import { io } from 'socket.io-client';

/**
 * Visitors of the server on `port`. `bot`: each message waits for the bot's reply, whose id is
 * `replyId(messageId)`; otherwise for the ack. `nextId()` names each message; `body` is what it says.
 */
export function socketIoVisitors({ port, bot = false, nextId, body, replyId }) {
  let conversations = 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    open() {
      const conversation = `c-${process.pid}-${++conversations}`;
      return new Promise((resolve, reject) => {
        // forceNew: one WebSocket per socket, as a browser tab has.
        const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { conversation, bot } });
        const waiting = new Map();
        socket.on('msg', (m) => waiting.get(m.id)?.());
        socket.once('connect', () => {
          const closed = new Promise((r) => socket.io.engine.once('close', r));
          resolve({ socket, waiting, closed, close: () => socket.disconnect() });
        });
        socket.once('connect_error', reject);
      });
    },
    send(conn) {
      return new Promise((resolve, reject) => {
        const id = nextId();
        const t0 = performance.now();
        if (bot) {
          const rid = replyId(id);
          conn.waiting.set(rid, () => {
            conn.waiting.delete(rid);
            resolve(performance.now() - t0);
          });
        }
        conn.socket.emit('send', { id, body }, (reply) => {
          if (reply?.error) return reject(new Error(`send refused (${reply.error})`));
          if (!bot) resolve(performance.now() - t0);
        });
      });
    },
  };
}
