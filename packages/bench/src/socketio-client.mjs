// The bench's load generator for the Socket.IO server (socketio-server.mjs), in the shape the
// bench drives every server with: open a socket, a pair in one conversation, one timed round trip,
// a sender that sends again as soon as its last message is acknowledged.
import { io } from 'socket.io-client';

/**
 * A client of the Socket.IO servers on `ports`, each socket on the next port in turn (so with two
 * servers the sockets split across both, and a pair's two sockets sit on different servers).
 * `nextId()` names each message; `body` is the message body, the same the relay is sent.
 */
export function socketIoClient({ ports, name, nextId, body }) {
  let turn = 0;
  let conversations = 0;
  return {
    name,
    /** A socket in `conversation` (a new one when absent); resolves once connected. */
    open(conversation = `conv-${process.pid}-${++conversations}`) {
      const url = `http://127.0.0.1:${ports[turn++ % ports.length]}`;
      return new Promise((resolve, reject) => {
        // forceNew: one WebSocket per socket, as a browser tab has (no multiplexing over one Manager).
        const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { conversation } });
        socket.once('connect', () => {
          const engine = socket.io.engine;
          const closed = new Promise((r) => engine.once('close', r));
          resolve({ socket, conversationId: conversation, closed, close: () => socket.disconnect() });
        });
        socket.once('connect_error', reject);
      });
    },
    /** Two sockets of one conversation (a second tab), on different servers when there are two. */
    async pair() {
      const a = await this.open();
      const b = await this.open(a.conversationId);
      return { a, b };
    },
    /** One message from `conn`; resolves with the time to its ack and to its `msg` on `other`. */
    roundTrip(conn, other) {
      return new Promise((resolve, reject) => {
        const id = nextId();
        const t0 = performance.now();
        let ack;
        let fanout;
        const done = () => {
          if (ack === undefined || (other && fanout === undefined)) return;
          other?.socket.off('msg', onMsg);
          resolve({ ack, fanout });
        };
        const onMsg = (m) => {
          if (m.id !== id) return;
          fanout = performance.now() - t0;
          done();
        };
        other?.socket.on('msg', onMsg);
        conn.socket.emit('send', { id, body }, (reply) => {
          if (reply?.error) return reject(new Error(`${name}: send refused (${reply.error})`));
          ack = performance.now() - t0;
          done();
        });
      });
    },
    /** Keep sending on `conn` until `running()` is false; `count()` after each ack. */
    pump(conn, running, count) {
      return new Promise((resolve, reject) => {
        const go = () => {
          if (!running()) return resolve();
          conn.socket.emit('send', { id: nextId(), body }, onAck);
        };
        const onAck = (reply) => {
          if (reply?.error) return reject(new Error(`${name}: send refused (${reply.error})`));
          count();
          go();
        };
        go();
      });
    },
  };
}
