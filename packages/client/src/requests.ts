import { newId, type ClientFrame, type ErrorCode, type ServerFrame } from '@parley/protocol';

/** A request's refusal: the relay's error, or the caller's code when no answer can come. */
interface Refusal {
  /** An `ErrorCode`; a relay newer than this client may send one it does not know. */
  code: string;
  message: string;
}

type Answer = Extract<ServerFrame, { id?: string }>;
/** A request frame without its id (given here), kept apart by its `t`. */
type Request = Extract<ClientFrame, { t: 'upload' | 'history' }> extends infer F ? (F extends unknown ? Omit<F, 'id'> : never) : never;

/**
 * Requests to the relay that wait for an answer frame with their id (an upload target, past
 * conversations): one map, answered by `answer`, ended with a refusal by `end` when the socket
 * drops, since an answer lost with it never comes.
 */
export function createRequests(tx: (frame: ClientFrame) => boolean) {
  const waiting = new Map<string, (answer?: Answer) => void>();
  return {
    /**
     * Send `frame` with a new id. Resolves with the answer; rejects with a `Refusal`: the
     * relay's error frame, or `code` at once when it cannot be sent or when the socket drops.
     */
    ask: <A>(frame: Request, code: ErrorCode): Promise<A> =>
      new Promise((ok, no) => {
        const id = newId();
        const end = (f?: Answer) => {
          waiting.delete(id);
          if (f && f.t != 'error') ok(f as A);
          else no((f ? { code: f.code, message: f.message } : { code, message: 'Not connected.' }) satisfies Refusal);
        };
        waiting.set(id, end);
        if (!tx({ ...frame, id } as ClientFrame)) end();
      }),
    /** Hand `f` to the request it answers; false when none waits for it. */
    answer(f: Answer): boolean {
      const end = f.id && waiting.get(f.id);
      return !!end && (end(f), true);
    },
    /** The socket dropped: every request waiting is refused. */
    end: () => waiting.forEach((end) => end()),
  };
}
