// Raw TCP clients for HTTP-level abuse tests: slow headers, dripped bodies, held connections.
import { connect, type Socket } from 'node:net';

/** A raw TCP client recording what it reads and when the relay closed it; `track` gets its cleanup. */
export function rawClient(port: number, track: (cleanup: () => void) => void) {
  const socket: Socket = connect(port, '127.0.0.1');
  let received = '';
  let closedAt: number | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => ((closedAt = Date.now()), resolve())));
  track(() => void socket.destroy());
  return {
    socket,
    closed,
    get received() {
      return received;
    },
    get closedAt() {
      return closedAt;
    },
    ready: new Promise<void>((resolve) => socket.once('connect', () => resolve())),
  };
}

/** Write `text` one byte every `everyMs` until it is all sent or the socket closes. */
export function drip(socket: Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++]!);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}
