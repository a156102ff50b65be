import {
  DeadLetter,
  ErrorBody,
  Message,
  PostEventResponse,
  PostMessageResponse,
  StoredEvent,
  VisitorContext,
  WebhookVisitor,
  check,
  type ConversationEvent,
  type HistoryResponse,
  type LogEntry,
  type PostMessageRequest,
  type WebhookEvent,
} from '@parley/protocol';
import { BACKEND_ERRORS, RelayError } from './errors.js';

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
}

type Parse<T> = (value: unknown) => { ok: true; value: T } | { ok: false; message: string };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function listOf<T>(key: string, item: Parse<T>): Parse<T[]> {
  return (value) => {
    if (!isObject(value) || !Array.isArray(value[key])) return { ok: false, message: `${key}: expected an array` };
    const out: T[] = [];
    for (const [i, raw] of (value[key] as unknown[]).entries()) {
      const parsed = item(raw);
      if (!parsed.ok) return { ok: false, message: `${key}.${i}.${parsed.message}` };
      out.push(parsed.value);
    }
    return { ok: true, value: out };
  };
}

const parseEntry: Parse<LogEntry> = (raw) => {
  if (isObject(raw) && raw.kind === 'msg') {
    const parsed = check(Message, raw);
    return parsed.ok ? { ok: true, value: { kind: 'msg', ...parsed.value } } : parsed;
  }
  if (isObject(raw) && raw.kind === 'event') {
    const parsed = check(StoredEvent, raw);
    return parsed.ok ? { ok: true, value: { kind: 'event', ...parsed.value } } : parsed;
  }
  return { ok: false, message: 'kind: expected "msg" or "event"' };
};

const parseHistory: Parse<HistoryResponse> = (value) => {
  const entries = listOf('entries', parseEntry)(value);
  if (!entries.ok) return entries;
  const v = value as Record<string, unknown>;
  if (typeof v.lastSeq !== 'number' || typeof v.hasMore !== 'boolean') {
    return { ok: false, message: 'lastSeq and hasMore are required' };
  }
  return { ok: true, value: { entries: entries.value, lastSeq: v.lastSeq, hasMore: v.hasMore } };
};

const parseConversation: Parse<ConversationSummary> = (raw) => {
  if (!isObject(raw)) return { ok: false, message: 'expected an object' };
  const { id, visitorId, createdAt, lastSeq, closed } = raw;
  if (typeof id !== 'string' || typeof createdAt !== 'number' || typeof lastSeq !== 'number' || typeof closed !== 'boolean') {
    return { ok: false, message: 'id, createdAt, lastSeq and closed are required' };
  }
  const visitor = check(WebhookVisitor, { id: visitorId, identity: raw.identity ?? undefined });
  if (!visitor.ok) return visitor;
  const context = check(VisitorContext, raw.context ?? {});
  if (!context.ok) return { ok: false, message: `context.${context.message}` };
  const summary: ConversationSummary = { id, visitorId: visitor.value.id, createdAt, lastSeq, closed, context: context.value };
  if (visitor.value.identity) summary.identity = visitor.value.identity;
  return { ok: true, value: summary };
};

const parseConversationPage: Parse<ConversationPage> = (value) => {
  const conversations = listOf('items', parseConversation)(value);
  if (!conversations.ok) return conversations;
  // A relay from before paging answers `{items}` only: its one page is the last.
  const { nextCursor = null } = value as Record<string, unknown>;
  if (nextCursor !== null && typeof nextCursor !== 'string') return { ok: false, message: 'nextCursor: expected a string or null' };
  return { ok: true, value: { conversations: conversations.value, nextCursor } };
};

const parseAvailability: Parse<{ online: boolean }> = (value) =>
  isObject(value) && typeof value.online === 'boolean' ? { ok: true, value: { online: value.online } } : { ok: false, message: 'online: expected a boolean' };

const parseRevoked: Parse<{ visitorId: string; revokedAt: number }> = (value) =>
  isObject(value) && typeof value.visitorId === 'string' && typeof value.revokedAt === 'number'
    ? { ok: true, value: { visitorId: value.visitorId, revokedAt: value.revokedAt } }
    : { ok: false, message: 'expected {visitorId, revokedAt}' };

const parseWith =
  <T>(schema: Parameters<typeof check<T>>[0]): Parse<T> =>
  (value) =>
    check(schema, value);

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

  async function request<T>(method: 'GET' | 'POST', path: string, body: unknown, parse: Parse<T>): Promise<T> {
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
    const parsed = parse(json);
    if (!parsed.ok) throw new RelayError('RELAY_BAD_RESPONSE', `${BACKEND_ERRORS.RELAY_BAD_RESPONSE.message} (${method} ${path}: ${parsed.message})`, status);
    return parsed.value;
  }

  const conversationPath = (id: string, rest: string) => `/v1/conversations/${encodeURIComponent(id)}/${rest}`;

  const listConversations = (opts: ListConversationsOptions = {}): Promise<ConversationPage> => {
    const query = new URLSearchParams();
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    if (opts.cursor !== undefined) query.set('cursor', opts.cursor);
    const qs = query.size ? `?${query}` : '';
    return request('GET', `/v1/conversations${qs}`, undefined, parseConversationPage);
  };

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
      request('POST', conversationPath(conversationId, 'messages'), message, parseWith(PostMessageResponse)),
    sendEvent: (conversationId, event, opts = {}) =>
      request(
        'POST',
        conversationPath(conversationId, 'events'),
        opts.id === undefined ? { event } : { id: opts.id, event },
        parseWith(PostEventResponse),
      ),
    history: (conversationId, opts = {}) => {
      const query = new URLSearchParams();
      if (opts.after !== undefined) query.set('after', String(opts.after));
      if (opts.limit !== undefined) query.set('limit', String(opts.limit));
      const qs = query.size ? `?${query}` : '';
      return request('GET', conversationPath(conversationId, `messages${qs}`), undefined, parseHistory);
    },
    conversations: () => request('GET', '/v1/conversations', undefined, listOf('items', parseConversation)),
    listConversations,
    eachConversation,
    setAvailability: (online) => request('POST', '/v1/availability', { online }, parseAvailability),
    revokeVisitor: (visitorId) => request('POST', `/v1/visitors/${encodeURIComponent(visitorId)}/revoke`, undefined, parseRevoked),
    deadLetters: () => request('GET', '/v1/dead-letters', undefined, listOf('items', parseWith(DeadLetter))),
  };
}
