import { CLOSE, type ClientFrame } from '@parley/protocol';
import type { SocketLike } from './types.js';

const OPEN = 1;
const noop = () => {};

export interface ConnectionHooks {
  url: string;
  createSocket: (url: string) => SocketLike;
  pingMs: number;
  /** The first frame on a new socket. */
  hello: () => ClientFrame;
  receive: (data: unknown) => void;
  /** The socket closed, could not be made, or the relay went silent; `close` has not been called. */
  closed: (code: number, reason: string) => void;
}

/**
 * One socket at a time, its heartbeat and its retry timer. Whether and when to reconnect is
 * the caller's call (in `closed`); this only opens, watches and closes.
 */
export function createConnection({ url, createSocket, pingMs, hello, receive, closed }: ConnectionHooks) {
  let ws: SocketLike | undefined;
  let welcomed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let beat: ReturnType<typeof setInterval> | undefined;
  let waiting = false; // a heartbeat tick passed with no frame from the relay

  const tx = (frame: ClientFrame): boolean => {
    if (!ws || ws.readyState !== OPEN) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  };

  const open = () => {
    clearTimeout(timer);
    timer = undefined;
    let s: SocketLike;
    try {
      s = ws = createSocket(url);
    } catch {
      return closed(CLOSE.GOING_AWAY, 'socket');
    }
    waiting = false;
    beat = setInterval(() => {
      if (waiting) return closed(CLOSE.IDLE_TIMEOUT, 'heartbeat');
      waiting = true;
      if (welcomed) tx({ t: 'ping', ts: Date.now() });
    }, pingMs);
    s.onopen = () => tx(hello());
    s.onmessage = (ev) => {
      waiting = false;
      receive(ev.data);
    };
    s.onclose = (ev) => closed(ev.code, ev.reason || '');
    s.onerror = noop; // a close event follows
  };

  return {
    tx,
    open,
    /** Whether a socket is open or opening. */
    up: () => !!ws,
    /** Whether the relay welcomed this socket. */
    welcomed: () => welcomed,
    welcome() {
      welcomed = true;
    },
    /** Run `fn` after `ms`, in place of any retry already waiting; `close` cancels it. */
    later(fn: () => void, ms: number) {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    },
    /** Stop the heartbeat and any retry, and close the socket without hearing from it again. */
    close(reason: string) {
      clearTimeout(timer);
      clearInterval(beat);
      timer = beat = undefined;
      const s = ws;
      ws = undefined;
      welcomed = false;
      if (!s) return;
      s.onopen = s.onmessage = s.onclose = s.onerror = noop; // `ws` throws on an unhandled error
      try {
        s.close(1000, reason.slice(0, 100));
      } catch {
        // already closed
      }
    },
  };
}
