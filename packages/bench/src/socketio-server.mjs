// The hand-rolled chat server the relay is compared with on Redis: Socket.IO 4 with its Redis
// adapter (ioredis). A client joins its conversation's room on connect; `emit('send', msg, ack)`
// broadcasts the message to the room through the adapter (every server process on the same Redis
// delivers it to its own sockets of that room) and calls `ack`. It keeps no log, assigns no
// sequence number, sends no webhook and waits for nothing from Redis before the ack: the least a
// chat needs, which is what makes it the floor for the relay's send → ack + fan-out.
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

/** The longest message text accepted: the relay's `LIMITS.maxTextLength`. */
const MAX_TEXT = 4000;

/**
 * Listens on `host`, port 0, with the Redis adapter on `redisUrl`; resolves with the port once
 * both Redis connections are up, and a `close()`.
 */
export async function startSocketIoServer({ redisUrl, host = '127.0.0.1' }) {
  const pub = new Redis(redisUrl, { lazyConnect: true });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer();
  // WebSocket only, as the relay: no long-polling transport, so no sticky sessions are needed.
  const io = new Server(http, { adapter: createAdapter(pub, sub), transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    const room = socket.handshake.auth?.conversation;
    if (typeof room !== 'string' || room.length === 0 || room.length > 64) {
      socket.disconnect(true);
      return;
    }
    void socket.join(room);
    socket.on('send', (msg, ack) => {
      if (typeof ack !== 'function') return;
      const text = msg?.body?.text;
      if (typeof msg?.id !== 'string' || msg.body.type !== 'text' || typeof text !== 'string' || text.length > MAX_TEXT) {
        ack({ error: 'BAD_FRAME' });
        return;
      }
      const ts = Date.now();
      io.to(room).emit('msg', { id: msg.id, ts, from: 'visitor', body: msg.body });
      ack({ id: msg.id, ts });
    });
  });
  await new Promise((resolve) => http.listen(0, host, resolve));
  return {
    port: http.address().port,
    close: async () => {
      io.disconnectSockets(true);
      await new Promise((resolve) => io.close(() => resolve()));
      pub.disconnect();
      sub.disconnect();
    },
  };
}
