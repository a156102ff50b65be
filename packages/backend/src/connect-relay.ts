import WebSocket from 'ws';
import {
  ErrorBody,
  check,
  decodeBackendServerFrame,
  shouldReconnect,
  type BackendClientFrame,
  type BackendSocketMode,
  type ConversationEvent,
  type OutgoingMessage,
  type UploadTarget,
  type WebhookEvent,
} from '@parley/protocol';
import { backoff } from './backoff.js';
import { BACKEND_ERRORS, RelayError } from './errors.js';
import { newId } from './new-id.js';
import { streamAnswer, type StreamControl, type StreamMessageOptions, type StreamResult } from './stream-message.js';

/**
 * What `onEvent` may resolve with: an inline reply, appended at once (like a webhook's 2xx body);
 * for `upload.requested`, the upload target.
 */
export type EventReply = { messages?: OutgoingMessage[]; upload?: UploadTarget } | void;

export interface ConnectRelayOptions {
  /** The relay's base URL (`https://chat.example.com`) or the socket URL (`wss://…/v1/backend`). */
  url: string;
  /** The site's `apiSecret` from the relay config. */
  apiSecret: string;
  /**
   * Handles one event. The event is acked once this resolves (with the reply it returns, if any);
   * if it throws, the event is not acked and the relay delivers it again. Events of one
   * conversation arrive one at a time, in order; an event may arrive more than once.
   */
  onEvent: (event: WebhookEvent) => Promise<EventReply> | EventReply;
  /** Opens the socket. Default: a `ws` client sending the given headers. */
  createSocket?: (url: string, headers: Record<string, string>) => WebSocket;
  /** Randomness in [0, 1) for the reconnect jitter. Default `Math.random`. */
  random?: () => number;
  /** Shortest wait before a reconnect. Default 500 ms. */
  minDelayMs?: number;
  /** Longest wait before a reconnect. Default 20 s. */
  maxDelayMs?: number;
}

/** The answer to `send` and `postEvent`. */
export interface WriteResult {
  /** The message or event id (generated when none was given). */
  id: string;
  /** The entry's sequence number; absent for transient events (typing, read, availability). */
  seq?: number;
  /** True when the id had been used before with the same content: nothing new was appended. */
  duplicate: boolean;
}

export type ConnectionState = 'connecting' | 'open' | 'waiting' | 'closed';

/** Events of a relay connection. */
export interface RelayConnectionEvents {
  /** The relay accepted the socket; queued writes go out now. */
  connected(info: { siteKey: string; mode: BackendSocketMode }): void;
  /** The socket closed; `willReconnect` is false after `close()` or a refusal. */
  disconnected(info: { code: number; reason: string; willReconnect: boolean }): void;
  /** A runtime fault: `UNAUTHORIZED` and `BACKEND_SOCKET_OFF` stop the connection for good. */
  error(error: { code: string; message: string }): void;
  /** Every state change. */
  state(change: { from: ConnectionState; to: ConnectionState }): void;
  /**
   * The visitor started (`on`) or stopped typing: throttled per conversation by the relay (at most
   * one `on` per few seconds, and the `off` after it). Ephemeral: not acked, not sent again.
   */
  typing(info: { conversationId: string; on: boolean; ts: number }): void;
  /** The visitor has read the conversation up to `seq` (it only grows). Ephemeral, like `typing`. */
  read(info: { conversationId: string; seq: number; ts: number }): void;
}

export interface RelayConnection {
  /** Append a message (idempotent on `message.id`, generated when absent); queued while reconnecting. */
  send(conversationId: string, message: OutgoingMessage): Promise<WriteResult>;
  /** Push an event (stored events are idempotent on `options.id`, generated when absent); queued while reconnecting. */
  postEvent(conversationId: string, event: ConversationEvent, options?: { id?: string }): Promise<WriteResult>;
  /**
   * Stream an answer as it is written, from any `AsyncIterable<string>` (a model's text stream):
   * visitors see it grow, and it enters the log once the iterable ends. Chunks are coalesced into
   * one delta frame per `intervalMs`, sent without waiting; `start`, `finish` and `abort` wait for
   * their ack and are resent after a reconnect, and the text is sent again from the start after a
   * reconnect or a gap. A refused delta fails the answer. When the iterable throws or `signal`
   * aborts, the answer is aborted (its text so far is logged as incomplete) and the error rethrown.
   */
  streamMessage(conversationId: string, textStream: AsyncIterable<string>, options?: StreamMessageOptions): Promise<StreamResult>;
  /** Close for good; writes not yet answered reject with `RELAY_CLOSED`. */
  close(): Promise<void>;
  /** Listen to an event; returns a function that stops listening. */
  on<K extends keyof RelayConnectionEvents>(event: K, listener: RelayConnectionEvents[K]): () => void;
  readonly state: ConnectionState;
}

type Write = { frame: Exclude<BackendClientFrame, { t: 'ack' }>; waiters: Array<{ resolve: (r: WriteResult) => void; reject: (e: Error) => void }> };

/** Upgrade refusals that the same secret would meet again. */
const TERMINAL_STATUS = new Set([401, 403]);

/** The stream under a `ws` socket (`_socket`). */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** The socket URL of a relay. */
export function backendSocketUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith('/v1/backend')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/backend`;
  return u.toString();
}

/**
 * Hold a backend socket to the relay: receive the site's events (acked once `onEvent` resolves),
 * and send messages and events over it. Reconnects by itself with backoff (full jitter) until
 * `close()`, or until the relay refuses the secret (`UNAUTHORIZED`).
 */
export function connectRelay(options: ConnectRelayOptions): RelayConnection {
  if (!options.url) throw new TypeError('connectRelay needs the relay url.');
  if (!options.apiSecret) throw new TypeError('connectRelay needs the site apiSecret.');
  if (typeof options.onEvent !== 'function') throw new TypeError('connectRelay needs an onEvent function.');
  const url = backendSocketUrl(options.url);
  const createSocket = options.createSocket ?? ((u, headers) => new WebSocket(u, { headers }));
  const random = options.random ?? Math.random;
  const listeners = new Map<keyof RelayConnectionEvents, Set<(arg: never) => void>>();
  /** Writes not answered yet, in the order they were made; resent after a reconnect (they are idempotent). */
  const writes = new Map<string, Write>();
  /** Events being handled, so a redelivery while one runs is acked once it is done. */
  const handling = new Set<string>();
  /** Answers streaming, by message id. */
  const streams = new Map<string, StreamControl>();
  let state: ConnectionState = 'connecting';
  let ws: WebSocket | undefined;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let whenClosed: Promise<void> | undefined;

  /** The socket's stream while it is corked for this turn of the event loop. */
  let corked: Corkable | undefined;

  /** Send a frame; frames sent in one turn of the event loop (acks, writes) leave in one write. */
  function sendText(socket: WebSocket, text: string): void {
    if (!corked) {
      const stream = (socket as { _socket?: Corkable })._socket;
      if (stream) {
        stream.cork();
        corked = stream;
        process.nextTick(uncork);
      }
    }
    socket.send(text);
  }

  function uncork(): void {
    const stream = corked;
    corked = undefined;
    stream?.uncork();
  }

  function emit<K extends keyof RelayConnectionEvents>(event: K, ...args: Parameters<RelayConnectionEvents[K]>): void {
    for (const fn of listeners.get(event) ?? []) {
      try {
        (fn as unknown as (...a: Parameters<RelayConnectionEvents[K]>) => void)(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  function setState(to: ConnectionState): void {
    if (to === state) return;
    const from = state;
    state = to;
    emit('state', { from, to });
  }

  function open(): void {
    setState('connecting');
    const socket = createSocket(url, { authorization: `Bearer ${options.apiSecret}` });
    ws = socket;
    let refused = false;
    socket.on('unexpected-response', (req, res) => {
      refused = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        const parsed = check(ErrorBody, body);
        const status = res.statusCode ?? 0;
        const error = parsed.ok ? parsed.value.error : { code: 'RELAY_BAD_RESPONSE', message: `The relay refused the socket with HTTP ${status}.` };
        req.destroy();
        if (socket !== ws) return;
        emit('error', error);
        if (TERMINAL_STATUS.has(status)) stop(1008, error.code, new RelayError(error.code, error.message, status));
        else retry(1006, error.code);
      });
    });
    socket.on('error', (err) => {
      if (socket !== ws || refused) return;
      emit('error', { code: 'RELAY_UNREACHABLE', message: `${BACKEND_ERRORS.RELAY_UNREACHABLE.message} (${err.message})` });
    });
    socket.on('message', (data) => {
      if (socket === ws) onFrame(socket, data);
    });
    socket.on('close', (code, reason) => {
      if (socket !== ws || refused) return;
      const why = reason.toString();
      if (state === 'closed') return;
      if (!shouldReconnect(code)) {
        emit('error', { code: why || 'CONNECTION_REFUSED', message: `The relay closed the socket with ${code} and asked not to reconnect.` });
        stop(code, why, new RelayError(why || 'CONNECTION_REFUSED', 'The relay refused the connection.', 0));
      } else retry(code, why);
    });
  }

  function retry(code: number, reason: string): void {
    ws = undefined;
    setState('waiting');
    emit('disconnected', { code, reason, willReconnect: true });
    const delay = backoff(attempt++, random, options.minDelayMs ?? 500, options.maxDelayMs ?? 20_000);
    timer = setTimeout(open, delay);
  }

  /** No more reconnects: writes waiting for an answer reject with `error`. */
  function stop(code: number, reason: string, error: Error): void {
    ws = undefined;
    if (timer) clearTimeout(timer);
    const wasClosed = state === 'closed';
    setState('closed');
    for (const write of writes.values()) for (const w of write.waiters) w.reject(error);
    writes.clear();
    for (const stream of streams.values()) stream.fail(error);
    if (!wasClosed) emit('disconnected', { code, reason, willReconnect: false });
  }

  function onFrame(socket: WebSocket, data: WebSocket.RawData): void {
    const decoded = decodeBackendServerFrame(data.toString());
    if (!decoded.ok) {
      emit('error', { code: 'RELAY_BAD_RESPONSE', message: `${BACKEND_ERRORS.RELAY_BAD_RESPONSE.message} (${decoded.message})` });
      return;
    }
    const frame = decoded.frame;
    switch (frame.t) {
      case 'ready':
        attempt = 0;
        setState('open');
        emit('connected', { siteKey: frame.siteKey, mode: frame.mode });
        for (const write of writes.values()) sendText(socket, JSON.stringify(write.frame));
        // Deltas sent on the socket that dropped may be lost: send each answer's text again.
        for (const stream of streams.values()) stream.resync();
        return;
      case 'event':
        void handle(frame.event);
        return;
      case 'typing':
        emit('typing', { conversationId: frame.conversationId, on: frame.on, ts: frame.ts });
        return;
      case 'read':
        emit('read', { conversationId: frame.conversationId, seq: frame.seq, ts: frame.ts });
        return;
      case 'ack': {
        const write = writes.get(frame.id);
        writes.delete(frame.id);
        const result: WriteResult = { id: frame.id, duplicate: frame.duplicate, ...(frame.seq === undefined ? {} : { seq: frame.seq }) };
        for (const w of write?.waiters ?? []) w.resolve(result);
        return;
      }
      case 'error': {
        const stream = frame.id === undefined ? undefined : streams.get(frame.id);
        // A delta past what the relay holds (one before it was lost): the text goes again from 0.
        if (stream && frame.code === 'STREAM_GAP') {
          stream.resync();
          return;
        }
        const write = frame.id === undefined ? undefined : writes.get(frame.id);
        if (!write) {
          if (stream) stream.fail(new RelayError(frame.code, frame.message, 0));
          else emit('error', { code: frame.code, message: frame.message });
          return;
        }
        writes.delete(frame.id!);
        const error = new RelayError(frame.code, frame.message, 0);
        for (const w of write.waiters) w.reject(error);
      }
    }
  }

  async function handle(event: WebhookEvent): Promise<void> {
    if (handling.has(event.id)) return;
    handling.add(event.id);
    try {
      const reply = await options.onEvent(event);
      const messages = reply && reply.messages;
      const upload = reply && reply.upload;
      if (state === 'open' && ws?.readyState === WebSocket.OPEN) sendText(ws, JSON.stringify({ t: 'ack', id: event.id, ...(messages ? { messages } : {}), ...(upload ? { upload } : {}) }));
    } catch (err) {
      emit('error', { code: 'HANDLER_FAILED', message: `${BACKEND_ERRORS.HANDLER_FAILED.message} (${event.type} ${event.id}: ${(err as Error)?.message ?? String(err)})` });
    } finally {
      handling.delete(event.id);
    }
  }

  function write(frame: Write['frame']): Promise<WriteResult> {
    if (state === 'closed') return Promise.reject(new RelayError('RELAY_CLOSED', BACKEND_ERRORS.RELAY_CLOSED.message, 0));
    return new Promise((resolve, reject) => {
      const pending = writes.get(frame.id);
      if (pending) {
        pending.waiters.push({ resolve, reject });
        return;
      }
      writes.set(frame.id, { frame, waiters: [{ resolve, reject }] });
      if (state === 'open' && ws?.readyState === WebSocket.OPEN) sendText(ws, JSON.stringify(frame));
    });
  }

  async function streamMessage(conversationId: string, textStream: AsyncIterable<string>, opts: StreamMessageOptions = {}): Promise<StreamResult> {
    const id = opts.id ?? newId('msg_');
    if (streams.has(id)) throw new TypeError(`The answer ${id} is already streaming on this connection.`);
    const base = { t: 'stream', id, conversationId } as const;
    try {
      return await streamAnswer(textStream, opts, (control) => {
        streams.set(id, control);
        return {
          start: async () => {
            const ack = await write({ ...base, op: 'start', ...(opts.from ? { from: opts.from } : {}) });
            // A seq means the id is a logged message already.
            return ack.seq === undefined ? undefined : { id, offset: 0, done: true, duplicate: true, seq: ack.seq };
          },
          delta: async (text, held) => {
            if (state === 'closed') throw new RelayError('RELAY_CLOSED', BACKEND_ERRORS.RELAY_CLOSED.message, 0);
            // While reconnecting the delta is dropped: `ready` resyncs the answer.
            if (state === 'open' && ws?.readyState === WebSocket.OPEN) sendText(ws, JSON.stringify({ ...base, op: 'delta', offset: held, text: text.slice(held) }));
            return text.length;
          },
          finish: async (text) => {
            // The full text: a delta refused or lost on the way cannot change the logged answer.
            const ack = await write({
              ...base,
              op: 'finish',
              text,
              ...(opts.sources ? { sources: opts.sources } : {}),
              ...(opts.quickReplies ? { quickReplies: opts.quickReplies } : {}),
            });
            return { id, offset: text.length, done: true, duplicate: ack.duplicate, ...(ack.seq === undefined ? {} : { seq: ack.seq }) };
          },
          abort: async (reason) => void (await write({ ...base, op: 'abort', reason })),
        };
      });
    } finally {
      streams.delete(id);
    }
  }

  open();

  return {
    get state() {
      return state;
    },
    send: (conversationId, message) => write({ ...message, t: 'send', conversationId, id: message.id ?? newId('msg_') }),
    postEvent: (conversationId, event, opts = {}) => write({ t: 'post', id: opts.id ?? newId('ev_'), conversationId, event }),
    streamMessage,
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      return () => void set.delete(listener);
    },
    close() {
      if (whenClosed) return whenClosed;
      const socket = ws;
      stop(1000, 'closed', new RelayError('RELAY_CLOSED', BACKEND_ERRORS.RELAY_CLOSED.message, 0));
      whenClosed =
        !socket || socket.readyState === WebSocket.CLOSED
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              socket.once('close', () => resolve());
              if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
              else socket.close(1000);
            });
      return whenClosed;
    },
  };
}
