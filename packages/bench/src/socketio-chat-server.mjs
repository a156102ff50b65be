// Socket.IO 4 as a one-process chat server, the peer of the side-by-side bench. A socket joins its
// conversation's room on connect; `emit('send', msg, ack)` is checked, broadcast to the room as
// `msg` and acked at once. When the socket's handshake says `bot: true`, the server also asks the
// backend over HTTP (undici, keep-alive: the same call and the same backend process as the other
// servers) and broadcasts the bot's reply to the room. It keeps no log, no sequence numbers, no
// deduplication: the least a chat needs.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { backendCaller, messageCreated } from './backend-call.mjs';

/** The longest message text accepted: the relay's `LIMITS.maxTextLength`. */
const MAX_TEXT = 4000;

/** Listens on `host`, port 0; `backendUrl` is where bot sockets' messages are POSTed. */
export async function startSocketIoChatServer({ backendUrl, host = '127.0.0.1', connections } = {}) {
  const backend = backendUrl ? backendCaller(backendUrl, { connections }) : undefined;
  const http = createServer();
  // WebSocket only, as the relay.
  const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  io.on('connection', (socket) => {
    const { conversation: room, bot } = socket.handshake.auth ?? {};
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
      const message = { id: msg.id, ts: Date.now(), from: { role: 'visitor' }, body: msg.body };
      io.to(room).emit('msg', message);
      ack({ id: msg.id, ts: message.ts });
      if (bot === true && backend) {
        backend.ask(messageCreated('socketio', room, message)).then(
          (replies) => {
            for (const m of replies) io.to(room).emit('msg', { id: m.id, ts: Date.now(), from: m.from ?? { role: 'bot' }, body: m.body });
          },
          () => socket.emit('failed', { id: msg.id }),
        );
      }
    });
  });
  await new Promise((resolve) => http.listen(0, host, resolve));
  return {
    port: http.address().port,
    close: async () => {
      io.disconnectSockets(true);
      await new Promise((resolve) => io.close(() => resolve()));
      await backend?.close();
    },
  };
}
