import {
  AvailabilityResponse,
  ConversationListReading,
  DeadLettersResponse,
  ErrorBody,
  HistoryResponse,
  PostEventResponse,
  PostMessageResponse,
  RevokeVisitorResponse,
  StreamResponse,
  check,
  type ConversationEvent,
  type DeadLetter,
  type PostMessageRequest,
  type StreamRequest,
  type VisitorContext,
  type WebhookEvent,
} from '@parley/protocol';
import { BACKEND_ERRORS, RelayError } from './errors.js';
import { newId } from './new-id.js';
import { streamAnswer, withRetries, type StreamMessageOptions, type StreamResult } from './stream-message.js';

export interface RelayClientOptions {
  /** The relay's base URL: `https://chat.example.com`. */
  url: string;
  /** The site's `apiSecret` from the relay config, sent as a bearer token. */
  apiSecret: string;
  /** A Fetch implementation. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Give up on a call after this many milliseconds. Default 10,000. */
  timeoutMs?: number;
}

/** The identity of a conversation's visitor, as the relay accepted it. */
export type VisitorIdentity = NonNullable<WebhookEvent['visitor']['identity']>;

/** One conversation of `GET /v1/conversations`. */
export interface ConversationSummary {
  id: string;
  visitorId: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Highest sequence number in the conversation's log. */
  lastSeq: number;
  closed: boolean;
  /** The visitor's latest page, product and attributes. */
  context: VisitorContext;
  identity?: VisitorIdentity;
}

/** One page of `GET /v1/conversations`, newest first. */
export interface ConversationPage {
  conversations: ConversationSummary[];
  /** Pass as `cursor` for the next, older page; null on the last page. */
  nextCursor: string | null;
}

export interface ListConversationsOptions {
  /** At most this many conversations (the relay's default and cap: 1,000). */
  limit?: number;
  /** The `nextCursor` of the previous page; none for the newest page. */
  cursor?: string;
}

export interface HistoryOptions {
  /** Return entries after this sequence number. Default 0 (from the start). */
  after?: number;
  /** At most this many entries (the relay caps a page at 200). */
  limit?: number;
}

export interface RelayClient {
  /**
   * Append a message (as the bot, an agent or the system) and push it to the visitor.
   * Idempotent on `id`: the same id and body again returns the original with
   * `duplicate: true`; the same id with another body throws `ID_CONFLICT`.
   */
  sendMessage(conversationId: string, message: PostMessageRequest): Promise<PostMessageResponse>;
  /**
   * Push an event: typing, queue position, agent joined, handoff, rating request, closed…
   * Stored events get a `seq` and are idempotent on `id`; typing, read and availability
   * are only pushed.
   */
  sendEvent(conversationId: string, event: ConversationEvent, options?: { id?: string }): Promise<PostEventResponse>;
  /** Read a conversation's log (messages and stored events) after a sequence number. */
  history(conversationId: string, options?: HistoryOptions): Promise<HistoryResponse>;
  /** This site's newest conversations, newest first: the first page of `listConversations` (up to 1,000). */
  conversations(): Promise<ConversationSummary[]>;
  /**
   * One page of this site's conversations, newest first. Conversations opened while you page
   * never repeat one you saw nor push an older one out of reach. A cursor the relay did not give
   * out throws `BAD_CURSOR`.
   */
  listConversations(options?: ListConversationsOptions): Promise<ConversationPage>;
  /** Every conversation of this site, newest first, fetched a page at a time (`pageSize`, default 1,000) as the loop asks for them. */
  eachConversation(options?: { pageSize?: number }): AsyncIterable<ConversationSummary>;
  /** Tell every open widget whether agents are available (offline shows the leave-a-message form). */
  setAvailability(online: boolean): Promise<{ online: boolean }>;
  /** Refuse the visitor's tokens issued until now: their next connection starts over as a new visitor. */
  revokeVisitor(visitorId: string): Promise<{ visitorId: string; revokedAt: number }>;
  /** Webhook deliveries that ran out of retries. */
  deadLetters(): Promise<DeadLetter[]>;
  /**
   * Stream an answer as it is written, from any `AsyncIterable<string>` (a model's text stream):
   * visitors see it grow, and it enters the log once the iterable ends. Chunks are coalesced into
   * one delta per `intervalMs`, with one request in flight at a time; a failed step is retried
   * with the same offset. When the iterable throws or `signal` aborts, the answer is aborted (its
   * text so far is logged as incomplete) and the error rethrown. If `options.id` names an answer
   * already logged, that answer is returned (`duplicate: true`) and the iterable is not read.
   */
  streamMessage(conversationId: string, textStream: AsyncIterable<string>, options?: StreamMessageOptions): Promise<StreamResult>;
}

/** Retries of a failed stream step (network errors, 429, 5xx), with backoff. */
const STEP_RETRIES = 5;

type Schema<T> = Parameters<typeof check<T>>[0];

/** A page of the SDK's shape; a missing `nextCursor` (a relay from before paging) makes it the last. */
function toPage({ items, nextCursor = null }: ConversationListReading): ConversationPage {
  return { conversations: items, nextCursor };
}

/**
 * A client for the relay's backend REST API. Every call sends the site's API secret,
 * validates the answer against the protocol schemas and throws a `RelayError` on failure.
 */
export function createRelayClient(options: RelayClientOptions): RelayClient {
  const base = options.url.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!base) throw new TypeError('createRelayClient needs the relay url.');
  if (!options.apiSecret) throw new TypeError('createRelayClient needs the site apiSecret.');
  if (typeof fetchImpl !== 'function') throw new TypeError('No fetch implementation: pass options.fetch.');

  async function request<T>(method: 'GET' | 'POST', path: string, body: unknown, schema: Schema<T>): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.apiSecret}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status = 0;
    let text: string;
    try {
      const res = await fetchImpl(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const code = timedOut ? 'RELAY_TIMEOUT' : 'RELAY_UNREACHABLE';
      throw new RelayError(code, `${BACKEND_ERRORS[code].message} (${method} ${path})`, status);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status < 200 || status > 299) {
      const error = check(ErrorBody, json);
      if (error.ok) throw new RelayError(error.value.error.code, error.value.error.message, status);
      throw new RelayError('RELAY_BAD_RESPONSE', `The relay answered ${status} without an error body (${method} ${path}).`, status);
    }
    const parsed = check(schema, json);
    if (!parsed.ok) throw new RelayError('RELAY_BAD_RESPONSE', `${BACKEND_ERRORS.RELAY_BAD_RESPONSE.message} (${method} ${path}: ${parsed.message})`, status);
    return parsed.value;
  }

  const conversationPath = (id: string, rest: string) => `/v1/conversations/${encodeURIComponent(id)}/${rest}`;

  const listConversations = (opts: ListConversationsOptions = {}): Promise<ConversationPage> => {
    const query = new URLSearchParams();
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    if (opts.cursor !== undefined) query.set('cursor', opts.cursor);
    const qs = query.size ? `?${query}` : '';
    return request('GET', `/v1/conversations${qs}`, undefined, ConversationListReading).then(toPage);
  };

  function streamMessage(conversationId: string, textStream: AsyncIterable<string>, opts: StreamMessageOptions = {}): Promise<StreamResult> {
    const id = opts.id ?? newId('msg_');
    const path = conversationPath(conversationId, `streams/${encodeURIComponent(id)}`);
    const step = (body: StreamRequest, retries = STEP_RETRIES) =>
      withRetries(() => request('POST', path, body, StreamResponse), retries).then((r): StreamResult => (r.message ? { ...r, seq: r.message.seq } : r));
    const start: StreamRequest = opts.from ? { op: 'start', from: opts.from } : { op: 'start' };
    return streamAnswer(textStream, opts, () => ({
      start: async () => {
        const state = await step(start);
        return state.done ? state : undefined;
      },
      async delta(text, held) {
        try {
          return (await step({ op: 'delta', offset: held, text: text.slice(held) })).offset;
        } catch (err) {
          if (!(err instanceof RelayError) || err.code !== 'STREAM_GAP') throw err;
          // The relay holds less than was sent: a repeated start tells how much, the rest goes next.
          const state = await step(start);
          if (state.done) throw new RelayError('STREAM_ENDED', err.message, 409);
          return Math.min(state.offset, text.length);
        }
      },
      finish: (text) =>
        step({
          op: 'finish',
          text,
          ...(opts.sources ? { sources: opts.sources } : {}),
          ...(opts.quickReplies ? { quickReplies: opts.quickReplies } : {}),
        }),
      abort: async (reason) => void (await step({ op: 'abort', reason }, 2)),
    }));
  }

  async function* eachConversation(opts: { pageSize?: number } = {}): AsyncGenerator<ConversationSummary> {
    let cursor: string | undefined;
    do {
      const page = await listConversations(cursor === undefined ? { limit: opts.pageSize } : { limit: opts.pageSize, cursor });
      yield* page.conversations;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  return {
    sendMessage: (conversationId, message) =>
      request('POST', conversationPath(conversationId, 'messages'), message, PostMessageResponse),
    sendEvent: (conversationId, event, opts = {}) =>
      request(
        'POST',
        conversationPath(conversationId, 'events'),
        opts.id === undefined ? { event } : { id: opts.id, event },
        PostEventResponse,
      ),
    history: (conversationId, opts = {}) => {
      const query = new URLSearchParams();
      if (opts.after !== undefined) query.set('after', String(opts.after));
      if (opts.limit !== undefined) query.set('limit', String(opts.limit));
      const qs = query.size ? `?${query}` : '';
      return request('GET', conversationPath(conversationId, `messages${qs}`), undefined, HistoryResponse);
    },
    conversations: () => request('GET', '/v1/conversations', undefined, ConversationListReading).then((answer) => toPage(answer).conversations),
    listConversations,
    eachConversation,
    setAvailability: (online) => request('POST', '/v1/availability', { online }, AvailabilityResponse),
    revokeVisitor: (visitorId) => request('POST', `/v1/visitors/${encodeURIComponent(visitorId)}/revoke`, undefined, RevokeVisitorResponse),
    deadLetters: () => request('GET', '/v1/dead-letters', undefined, DeadLettersResponse).then((answer) => answer.items),
    streamMessage,
  };
}
