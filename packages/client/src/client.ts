import {
  CLOSE,
  EN_STRINGS,
  HANDOFF_VALUE,
  LIMITS,
  isVisitorBody,
  newId,
  type Button,
  type ErrorCode,
  type ConversationsFrame,
  type HistoryFrame,
  type HistoryPageFrame,
  type PageContext,
  type ProductContext,
  type ServerFrame,
  type VisitorBody,
  type WelcomeFrame,
} from '@parley/protocol';
import { backoff } from './backoff.js';
import { createConnection } from './connection.js';
import { createConversation } from './conversation.js';
import { createEmitter } from './emitter.js';
import { buildHello } from './hello.js';
import { browserPage, cleanPage } from './page-context.js';
import { widgetSocketUrl } from './relay-url.js';
import { createRequests } from './requests.js';
import { fetchSite, keepSite, keptSite } from './site.js';
import { blank, createSnapshot } from './snapshot.js';
import { createState } from './state.js';
import { createStore, defaultStorage } from './storage.js';
import { loadLink, type Link } from './link-import.js';
import type { Tabs } from './tabs.js';
import type {
  ChatMessage,
  ClientEvents,
  ClientOptions,
  IdentifyOptions,
  ParleyClient,
  SocketLike,
  TimelineItem,
} from './types.js';

const noop = () => {};
/** Wait before resending what the relay dropped while rate limiting. */
const RESEND_AFTER_MS = 1000;

/**
 * Create a headless Parley client. Throws only on bad options.
 *
 * This composes the parts: the snapshot and its events (snapshot.ts), the conversation's log,
 * outbox and reads (conversation.ts), one socket with its heartbeat (connection.ts), the hello
 * (hello.ts) with the page context (page-context.ts), requests that wait for an answer
 * (requests.ts) and the site's public config (site.ts). What is left here is the policy between
 * them: when to connect and reconnect, what a welcome or an error frame changes, the public API.
 */
export function createClient(options: ClientOptions): ParleyClient {
  const o = options;
  if (!o || typeof o.siteKey !== 'string' || !o.siteKey) throw new TypeError('siteKey is required');
  const url = widgetSocketUrl(o.relayUrl);
  const createSocket =
    o.createSocket ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
  const random = o.random ?? Math.random;
  const pingMs = o.pingIntervalMs ?? 25_000;
  const store = createStore(o.storage === undefined ? defaultStorage() : o.storage, o.siteKey, !!o.requireConsent);
  const events = createEmitter<ClientEvents>();
  const emit = events.emit;
  /** The visitor's language tag. */
  const tag = o.locale || (typeof navigator != 'undefined' ? navigator.language : undefined);

  const [snapshot, set] = createSnapshot(emit, blank(store.consented(), o));
  const state = createState((change) => {
    set({ state: change.to });
    emit('state', change);
  });

  let identity: IdentifyOptions | undefined = store.get('id');
  let ctx: { page?: PageContext; product?: ProductContext } = {};
  let ctxPending = false;
  let fresh = false;

  let stopped = true;
  let attempt = 0;
  let resend: ReturnType<typeof setTimeout> | undefined;
  let sentSeq = 0; // lastSeq sent in the current hello
  let sentToken = false;
  let lastError: string | undefined;
  let tabs: Tabs | undefined;
  let unlisten = noop;
  /** `prepare()` left a new visitor without a socket: the first message connects. */
  let lazy = false;
  /** The connection code (link-import.ts), once at hand; `linking` while it loads. */
  let link: Link | undefined;
  let linking: Promise<void> | undefined;
  const conversation = createConversation({ store, emit, set, snap: snapshot, tabs: () => tabs });
  const outbox = conversation.outbox;

  /** Report a fault. Every one carries its message: the relay's, the decoder's, or the client's own. */
  const fault = (code: ErrorCode | string, message: string) => {
    lastError = code;
    emit('error', { code: code as ErrorCode, message });
  };

  // ---- restore from storage ----

  conversation.restore();
  set(keptSite(store, tag));

  // ---- connection ----

  const online = () => typeof navigator === 'undefined' || navigator.onLine !== false;

  /** Every disconnect goes through here. `code` decides whether to reconnect; `delay` overrides the backoff. */
  const drop = (code: number, reason: string, delay?: number) => {
    clearTimeout(resend);
    resend = undefined;
    connection.close(reason);
    requests.end();
    if (code === CLOSE.TOKEN_INVALID && sentToken) {
      // The token is stale (rotated secret, expired): start over without it, once.
      store.set('token', undefined);
      store.set('log', undefined);
      conversation.reset(undefined);
      code = CLOSE.GOING_AWAY;
      delay = 0;
    }
    if (code === CLOSE.IDENTITY_INVALID) {
      identity = undefined;
      store.set('id', undefined);
    }
    if (stopped || !link!.shouldReconnect(code)) {
      state.set('closed');
      // A refusal code this client does not know (the range decides, not a list) is CONNECTION_REFUSED.
      const err = stopped ? undefined : link!.errorOf(code) || 'CONNECTION_REFUSED';
      if (err && err !== lastError) fault(err, `The relay refused the connection (${code} ${reason}).`);
      return;
    }
    state.set('reconnecting');
    if (online()) connection.later(open, delay ?? backoff(attempt++, random, o.backoff?.minMs, o.backoff?.maxMs));
    // offline: the `online` listener reconnects
  };

  const connection = createConnection({
    url,
    createSocket,
    pingMs,
    hello() {
      const token = store.get('token');
      sentToken = !!token;
      sentSeq = conversation.lastSeq();
      const page = cleanPage({ ...(o.page ? o.page() : browserPage()), ...(o.locale && { locale: o.locale }), ...ctx.page });
      return buildHello({ siteKey: o.siteKey, token, lastSeq: sentSeq, page, identity, fresh });
    },
    receive: (data) => receive(data),
    closed: drop,
  });
  const tx = connection.tx;
  /** Upload targets and past conversations, asked once welcomed. */
  const requests = createRequests((f) => connection.welcomed() && tx(f));

  const open = () => {
    lastError = undefined;
    connection.open();
  };

  const sendOne = (m: ChatMessage) => tx({ t: 'send', id: m.id, body: m.body as VisitorBody });

  const flush = (only?: string) => {
    if (!connection.welcomed()) return;
    const { send, failed } = outbox.due(only);
    send.forEach(sendOne);
    failed.forEach((m) => emit('message', m));
  };

  const welcome = (w: WelcomeFrame) => {
    store.set('token', w.token);
    const moved = w.conversationId !== conversation.conv() || w.reset === true;
    if (moved) {
      // After a reset the relay replays from 0; a plain move replayed after our seq of another conversation.
      const replayedTooLittle = sentSeq > 0 && !w.reset;
      conversation.reset(w.conversationId);
      conversation.persist(true);
      // The relay replayed after a sequence number of another conversation: ask again from 0.
      if (replayedTooLittle) return drop(CLOSE.GOING_AWAY, 'conversation changed', 0);
    }
    fresh = false;
    attempt = 0;
    connection.welcome();
    const greet = { greeting: w.greeting, siteName: w.site.name, online: w.online };
    set({ ...greet, identity: w.identity ?? null });
    keepSite(store, snapshot(), tag);
    state.set('open');
    const stored = store.get('out');
    if (Array.isArray(stored)) outbox.adopt(stored, conversation.logged);
    flush();
    conversation.sendFeedback(tx);
    // The hello carried the page; a product goes in a context frame, again whenever the
    // conversation changed under us (identify(), restart()).
    if (ctxPending || (moved && ctx.product)) sendContext();
  };

  const receive = (data: unknown) => {
    const r = link!.decodeServerFrame(data);
    if (!r.ok) return fault(r.code, r.message);
    const f: ServerFrame = r.frame;
    switch (f.t) {
      case 'welcome':
        return welcome(f);
      case 'ack':
        return conversation.ack(f);
      case 'msg':
        return conversation.message(f);
      case 'event':
        return conversation.event(f);
      case 'error':
      {
        // The refusal of a request (an upload target, past conversations): its promise rejects, nothing else changes.
        if (requests.answer(f)) return;
        // Frames the relay dropped while rate limiting, or could not store (NOT_READY: its store
        // is unreachable), stay in the outbox and go again a little later.
        const retry = f.code === 'RATE_LIMITED' || f.code === 'NOT_READY';
        if (retry && !resend) resend = setTimeout(() => ((resend = undefined), flush()), RESEND_AFTER_MS);
        // An outage of the relay's store is not the message's fault: it keeps its try budget.
        if (f.id && f.code === 'NOT_READY') outbox.retry(f.id);
        if (f.id && !retry) {
          const m = outbox.fail(f.id);
          if (m) emit('message', m);
        }
        // A refused signature is not sent again (each would count as a failed authentication):
        // the visitor goes on anonymously, as the relay welcomed them.
        if (f.code === 'IDENTITY_INVALID') store.set('id', (identity = undefined));
        return fault(f.code, f.message);
      }
      case 'draft':
        return conversation.draft(f);
      case 'upload':
      case 'conversations':
      case 'history':
        return void requests.answer(f);
      case 'pong':
        return;
    }
  };

  const listen = () => {
    // Back online, or the page shown again: try at once rather than wait out the backoff.
    const now = () => state.get() === 'reconnecting' && !connection.up() && open();
    tabs = link!.createTabs(o.siteKey, conversation.onRead, (visible) => visible && now());
    if (typeof window === 'undefined' || !window.addEventListener) return;
    const down = () => connection.up() && drop(CLOSE.GOING_AWAY, 'offline');
    window.addEventListener('online', now);
    window.addEventListener('offline', down);
    unlisten = () => {
      window.removeEventListener('online', now);
      window.removeEventListener('offline', down);
    };
  };

  /** Ask the relay for past conversations (`history` frame): its answer, or a `Refusal`. */
  const history = <F extends ConversationsFrame | HistoryPageFrame>(ask: Omit<HistoryFrame, 't' | 'id'>) =>
    requests.ask<F>({ t: 'history', ...ask }, 'NOT_READY');

  // ---- public API ----

  const post = (body: VisitorBody): ChatMessage => {
    const bad = !isVisitorBody(body) || JSON.stringify(body).length > LIMITS.maxFrameBytes - 100;
    const m = outbox.add(body, Date.now(), bad);
    emit('message', m);
    if (lazy) connect();
    if (bad) fault('BAD_FRAME', 'The message does not fit the protocol limits.');
    // While refused sends wait for their resend, a new one waits with them, so the relay gets
    // them in the order the visitor sent them.
    else if (!resend) flush(m.id);
    return m;
  };

  const sendContext = () => {
    // The next hello carries the page; only a product needs a context frame after it.
    ctxPending = !tx({ t: 'context', ...ctx }) && !!ctx.product;
  };

  const connect = () => {
    const s = state.get();
    if (s !== 'idle' && s !== 'closed') return;
    lazy = false;
    stopped = false;
    attempt = 0;
    state.set('connecting');
    start();
  };

  /** Listen and open the socket, once the connection code is at hand; a failed load is retried like a failed socket. */
  const start = (): void => {
    if (link) return listen(), open();
    const l = loadLink();
    if (!('then' in l)) return (link = l), start();
    linking ||= l.then(
      (m) => {
        link = m;
        linking = undefined;
        if (!stopped) start();
      },
      () => {
        linking = undefined;
        if (!stopped) connection.later(start, backoff(attempt++, random, o.backoff?.minMs, o.backoff?.maxMs));
      },
    );
  };

  const disconnect = () => {
    lazy = false;
    stopped = true;
    drop(1000, 'disconnect');
    tabs?.close();
    tabs = undefined;
    unlisten();
    unlisten = noop;
  };

  /** Drop the socket and reconnect at once (identity change, new conversation). */
  const reopen = (reason: string) => {
    // While the connection code loads, the socket it then opens carries the change.
    if (!stopped && link) drop(CLOSE.GOING_AWAY, reason, 0);
  };

  return {
    connect,
    prepare() {
      if (state.get() !== 'idle' || lazy) return;
      // Every visitor reads the config, for the strings in their language; `welcome` brings the
      // greeting too, and wins. No config (blocked, offline): `welcome` brings it on intent.
      void fetchSite(o, tag, connection.welcomed).then((site) => {
        if (!site) return;
        set(site);
        keepSite(store, snapshot(), tag);
      });
      // A returning visitor (a conversation stored) connects now, for what arrived while away; so do
      // messages left unsent. A visitor who only opened the panel once has a token and nothing else.
      if ((store.get('token') && store.get('log')?.items?.length) || outbox.items().length) return connect();
      lazy = true;
    },
    disconnect,
    send: (text) => post({ type: 'text', text }),
    postback: (button: Button) => post({ type: 'postback', value: button.value, label: button.label }),
    feedback(messageId, value, comment) {
      const note = comment?.trim().slice(0, LIMITS.maxCommentLength);
      // Only the latest choice per message matters: an unsent earlier one is dropped.
      conversation.feedback({ t: 'feedback', id: newId(), messageId, value, ...(note && { comment: note }) });
      if (connection.welcomed()) conversation.sendFeedback(tx);
    },
    rate(score, comment) {
      set({ ratingRequested: null });
      return post(comment ? { type: 'rating', score, comment } : { type: 'rating', score });
    },
    requestHuman: (label = EN_STRINGS.human) => post({ type: 'postback', value: HANDOFF_VALUE, label }),
    leaveMessage: (email, text) => post({ type: 'contact', email, text }),
    requestUpload: (file) => requests.ask({ t: 'upload', ...file }, 'UPLOAD_UNAVAILABLE'),
    sendFile: (file) => post({ type: 'file', ...file }),
    retry(id) {
      const m = outbox.retry(id);
      if (!m) return;
      emit('message', m);
      flush(id);
    },
    setContext(c) {
      const page = cleanPage({ ...ctx.page, ...(c.url !== undefined && { url: c.url }), ...(c.title !== undefined && { title: c.title }) });
      // Each call updates what it names; the product stays until replaced.
      ctx = { page, product: c.product ?? ctx.product };
      sendContext();
    },
    identify(id) {
      if (!id?.userId || typeof id.userId !== 'string' || (id.signature !== undefined && !/^[\da-f]{64}$/i.test(id.signature)))
        throw new TypeError('identify: userId is required; signature must be 64 hex characters');
      if (JSON.stringify(id) === JSON.stringify(identity)) return;
      identity = id;
      store.set('id', id);
      conversation.replay();
      reopen('identify');
    },
    typing(on) {
      tx({ t: 'typing', on });
    },
    markRead() {
      const seq = conversation.markRead();
      if (!seq) return;
      tabs?.read(conversation.conv()!, seq);
      tx({ t: 'read', seq });
    },
    consent() {
      store.consent();
      set({ consented: true });
    },
    restart() {
      fresh = true;
      store.set('log', undefined);
      conversation.reset(undefined);
      reopen('restart');
    },
    pastConversations: () => history<ConversationsFrame>({}).then((f) => f.items),
    async openPast(conversationId) {
      const items: TimelineItem[] = [];
      for (let page: HistoryPageFrame | undefined; !page || (page.hasMore && page.entries.length); ) {
        page = await history<HistoryPageFrame>({ conversationId, after: items.length ? items[items.length - 1]!.seq! : 0 });
        // Entries are timeline items as they are (the relay marks `incomplete` only when true).
        items.push(...(page.entries as TimelineItem[]));
      }
      return items;
    },
    shutdown() {
      disconnect();
      identity = undefined;
      ctx = {};
      fresh = false;
      outbox.clear();
      conversation.reset(undefined);
      store.clear();
      set({ ...blank(store.consented(), o), state: snapshot().state, timeline: snapshot().timeline });
    },
    getSnapshot: snapshot,
    on: events.on,
  };
}
