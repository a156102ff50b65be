import { LIMITS, type Button, type OutgoingMessage, type Source, type StreamResponse } from '@parley/protocol';
import { backoff } from './backoff.js';
import { BACKEND_ERRORS, RelayError } from './errors.js';

export interface StreamMessageOptions {
  /** The answer's message id, the idempotency key of every step. Default: a new `msg_` id. */
  id?: string;
  /** Who writes the answer. Default (the relay's): `{role: 'bot', ai: true}`. */
  from?: OutgoingMessage['from'];
  /** Links shown under the finished answer (at most 10). */
  sources?: Source[];
  /** Buttons under the finished answer: it is logged as a quick-replies message. */
  quickReplies?: Button[];
  /** Chunks that arrive within this many milliseconds travel as one delta. Default 50. */
  intervalMs?: number;
  /**
   * While the text stream is silent (a model thinking before its first word), a repeated `start`
   * this often keeps the relay from closing the answer as stalled (`limits.streamStallMs`,
   * default 30 s). Default 10,000.
   */
  keepAliveMs?: number;
  /** Aborting it aborts the answer (the text so far is logged as incomplete) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * What `streamMessage` resolves with once the answer is in the conversation's log: the relay's
 * `StreamResponse` (`done` is true; `duplicate` when the id was an answer logged before) and the
 * answer's `seq`. Over the backend socket the acks carry no message: `message` is absent, and
 * `offset` is the length of the text streamed (0 for an answer logged before).
 */
export type StreamResult = StreamResponse & {
  /** The answer's sequence number in the log. */
  seq?: number;
};

/** What a transport calls while an answer streams. */
export interface StreamControl {
  /** The answer cannot go on (a refused step, a closed connection): it is aborted and `error` thrown. */
  fail(error: unknown): void;
  /** The relay may hold less than was sent (a reconnect, a gap): send everything again from offset 0. */
  resync(): void;
}

/** The steps of one answer over one transport: REST calls or backend-socket frames. */
export interface StreamSteps {
  /** Open the answer, or repeat the start to keep it open; `result` when its id is a logged message. */
  start(): Promise<StreamResult | undefined>;
  /** Send `text` past `held`; resolves with the characters the relay holds afterwards. */
  delta(text: string, held: number): Promise<number>;
  /** Log the answer with its full text. */
  finish(text: string): Promise<StreamResult>;
  /** Log what the relay holds as an incomplete answer. */
  abort(reason: string): Promise<void>;
}

/** Failures that a retry of the same step may cure: no answer, overload, a relay restarting. */
function isRetryable(error: unknown): boolean {
  if (!(error instanceof RelayError)) return false;
  if (error.status === 0) return error.code === 'RELAY_UNREACHABLE' || error.code === 'RELAY_TIMEOUT';
  return error.status === 429 || error.status >= 500;
}

/** Run `step` again (it is idempotent) while it fails with a retryable error, up to `retries` times. */
export async function withRetries<T>(step: () => Promise<T>, retries: number, minDelayMs = 200, maxDelayMs = 5000): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (attempt >= retries || !isRetryable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoff(attempt, Math.random, minDelayMs, maxDelayMs)));
    }
  }
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** The abort reason: the error's message, cut to the limit (never in the middle of a character). */
function reasonOf(error: unknown): string {
  const reason = (error instanceof Error ? error.message : String(error)).slice(0, LIMITS.maxShortLength);
  return isHighSurrogate(reason.charCodeAt(reason.length - 1)) ? reason.slice(0, -1) : reason;
}

/**
 * Stream one answer: start it, read the text stream, send what arrived at most once per
 * `intervalMs` (a transport whose `delta` waits for the relay has one delta in flight at a time), and
 * finish with the full text once the iterable ends. When the iterable throws, the signal aborts or
 * a step fails, the answer is aborted and that error rethrown.
 */
export async function streamAnswer(
  textStream: AsyncIterable<string>,
  options: StreamMessageOptions,
  makeSteps: (control: StreamControl) => StreamSteps,
): Promise<StreamResult> {
  if (!textStream || typeof (textStream as Partial<AsyncIterable<string>>)[Symbol.asyncIterator] !== 'function') {
    throw new TypeError('streamMessage needs an AsyncIterable<string>, such as a model\'s text stream.');
  }
  const intervalMs = options.intervalMs ?? 50;
  const keepAliveMs = options.keepAliveMs ?? 10_000;
  if (typeof intervalMs !== 'number' || !(intervalMs >= 0) || !Number.isFinite(intervalMs)) throw new TypeError('intervalMs must be a number ≥ 0.');
  if (typeof keepAliveMs !== 'number' || !(keepAliveMs >= 10) || !Number.isFinite(keepAliveMs)) throw new TypeError('keepAliveMs must be a number ≥ 10.');
  const signal = options.signal;
  signal?.throwIfAborted();

  let text = '';
  let held = 0;
  let ended = false;
  let sourceDone = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let stop!: (error: unknown) => void;
  const stopped = new Promise<never>((_resolve, reject) => (stop = reject));
  stopped.catch(() => {});

  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (error: unknown) => {
    if (failure) return;
    failure = { error };
    stop(error);
    poke();
  };
  /** Wait for a chunk, the end, a failure or `ms`. */
  const pause = (ms?: number) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const steps = makeSteps({
    fail,
    resync: () => {
      held = 0;
      poke();
    },
  });
  const iterator = textStream[Symbol.asyncIterator]();
  /** Release the source (an HTTP stream from the model) when the answer stops before it ends. */
  const releaseSource = () => {
    if (!sourceDone) void Promise.resolve(iterator.return?.()).catch(() => {});
  };

  const read = async () => {
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), stopped]);
        if (next.done) break;
        if (typeof next.value !== 'string') throw new TypeError(`The text stream yielded a ${typeof next.value}, not a string.`);
        text += next.value;
        if (text.length > LIMITS.maxTextLength) {
          fail(new RelayError('STREAM_TOO_LONG', `${BACKEND_ERRORS.STREAM_TOO_LONG.message} (${text.length} characters)`, 0));
          return;
        }
        poke();
      }
      sourceDone = true;
      ended = true;
      poke();
    } catch (err) {
      if (!failure) sourceDone = true;
      fail(err);
    }
  };

  const onAbort = () => fail(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let started = false;
  try {
    const duplicate = await steps.start();
    if (duplicate) {
      releaseSource();
      return duplicate;
    }
    started = true;
    void read();
    let lastSentAt = -Infinity;
    let lastStepAt = Date.now();
    for (;;) {
      if (failure) throw failure.error;
      if (ended) break;
      // A character split across chunks (a lone high surrogate at the end) waits for its other half.
      const sendable = isHighSurrogate(text.charCodeAt(text.length - 1)) ? text.slice(0, -1) : text;
      if (sendable.length > held) {
        const wait = lastSentAt + intervalMs - Date.now();
        if (wait > 0) {
          await pause(wait);
          continue;
        }
        lastSentAt = lastStepAt = Date.now();
        held = await steps.delta(sendable, held);
        continue;
      }
      const quiet = lastStepAt + keepAliveMs - Date.now();
      if (quiet > 0) {
        await pause(quiet);
        continue;
      }
      lastStepAt = Date.now();
      if (await steps.start()) throw new RelayError('STREAM_ENDED', 'The relay closed the answer (it stalled, or another writer ended it).', 409);
    }
    if (text === '') throw new RelayError('STREAM_EMPTY', BACKEND_ERRORS.STREAM_EMPTY.message, 0);
    return await steps.finish(text);
  } catch (err) {
    fail(err);
    const error = failure!.error;
    releaseSource();
    if (started) await steps.abort(reasonOf(error)).catch(() => {});
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
