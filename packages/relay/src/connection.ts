import { isUtf8 } from 'node:buffer';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import {
  CLOSE,
  CLOSE_OF,
  LIMITS,
  PROTOCOL_VERSION,
  decode,
  encode,
  type ClientFrame,
  type CloseCode,
  type ClosingErrorCode,
  type DecodeResult,
  type ContextFrame,
  type ErrorCode,
  type FeedbackFrame,
  type HistoryFrame,
  type HelloFrame,
  type LogEntry,
  type SendFrame,
  type ServerFrame,
  type UploadFrame,
  type VisitorContext,
  type WelcomeFrame,
} from '@parley/protocol';
import type { LimitsConfig } from './config.js';
import type { ConversationService } from './conversation-service.js';
import { closesConversation, mergeContextValue } from './engine/shared.js';
import { isEngineUnavailable } from './engine/types.js';
import { errorFrame } from './errors.js';
import { handshake, isRefusal, type HandshakeContext, type Session, type SiteRuntime } from './handshake.js';
import type { Hub, HubMember } from './hub.js';
import { OrderedDelivery, REPLAY_PAGE, type OrderedDeliveryOptions } from './ordered-delivery.js';
import { answerHistory } from './past-conversations.js';
import type { RelayMetrics } from './plugins/metrics.js';
import { SocketGuard } from './protections.js';
import { sameJson } from './same-json.js';
import { refuseFile, refuseFileMessage, type Uploads } from './uploads.js';
import type { VisitorActivity } from './visitor-activity.js';

export type { SiteRuntime } from './handshake.js';

/** Everything a connection needs, shared by all connections of one app. */
export interface SocketContext extends HandshakeContext {
  limits: LimitsConfig;
  service: ConversationService;
  hub: Hub;
  metrics: RelayMetrics;
  log: FastifyBaseLogger;
  /** Grace before a closing socket that does not answer the close handshake is cut. */
  closeGraceMs: number;
  /** The visitor's typing and read marks on their way to the backend. */
  activity: Pick<VisitorActivity, 'typed' | 'read'>;
  /** Upload targets for the visitor's attachments, from the site's backend. */
  uploads: Pick<Uploads, 'target'>;
}

/** What a socket needs to offer; `ws` sockets do. */
export type SocketLike = Pick<WebSocket, 'send' | 'close' | 'terminate' | 'readyState' | 'bufferedAmount'>;

const OPEN = 1;

/** The stream under a `ws` socket (`_socket`), corked while one turn's frames gather. */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Frames gathered in one turn go out early once they pass this many bytes (or the backlog cap). */
const BATCH_BYTES = 64 * 1024;

/** Live drafts held while the open streams' snapshots are read; past it they are dropped (the finished message repairs the text). */
const MAX_HELD_DRAFTS = 1000;

/** Upload targets one socket may be waiting for at once. */
const MAX_UPLOADS_IN_FLIGHT = 3;

type State = 'new' | 'hello' | 'open' | 'closed';

/**
 * A text frame's bytes as a string, when they are UTF-8 (the ws library refuses a text frame that
 * is not, so they are): a native check and a plain decode, cheaper than a fatal TextDecoder. Bytes
 * that are not UTF-8 go to the decoder as they are, which refuses them.
 */
function textOf(data: unknown): unknown {
  return Buffer.isBuffer(data) && isUtf8(data) ? data.toString('utf8') : data;
}

/**
 * One widget socket: frames in order, one at a time, through the handshake (handshake.ts), the
 * visitor's actions (a conversation is stored with the first one), ordered delivery
 * (ordered-delivery.ts) and the frame budget (protections.ts).
 */
/** Stands in the frame queue for a binary frame. */
const BINARY = Symbol('binary frame');

/** A frame as it arrived: decoded (or refused by the decoder), or binary. */
type Inbound = DecodeResult<ClientFrame> | typeof BINARY;

/** What storing a conversation the visitor has not acted in yet takes, from the accepted hello. */
type Draft = Pick<Session, 'visitorId' | 'ownerKey' | 'identity' | 'fresh'> & {
  /** Left out while empty. */
  context: VisitorContext | undefined;
};

/**
 * An idle open widget costs its socket and little more: state is plain fields, what only the
 * hello needs is let go after it, and the connection is its own port for the ordered delivery
 * (no closures per socket).
 */
export class Connection implements HubMember, OrderedDeliveryOptions {
  conversationId = '';
  siteKey = '';
  readonly openedAt: number;
  lastFrameAt: number;
  private state: State = 'new';
  private site: SiteRuntime | undefined;
  /** Kept until the conversation is stored. */
  private draft: Draft | undefined;
  /** True once the conversation is stored. */
  private stored = false;
  /** The conversation has a stored `closed` event (seen in the log or at open). */
  private closedConversation = false;
  /** What this socket's visitor last said of typing. */
  private typing = false;
  /** The highest read mark this socket stored. */
  private readSeq = 0;
  /** Whose conversations this socket may read (`Session.ownerKey`). */
  private ownerKey = '';
  /** Upload targets asked for and not answered yet. */
  private uploading = 0;
  private delivery: OrderedDelivery | undefined;
  private joined = false;
  private readonly guard: SocketGuard;
  private busy = false;
  /** Frames that arrived while one was being handled. */
  private queue: Inbound[] | undefined;
  /** A close waiting for the frame in hand to finish, so what it stored is acked first. */
  private closeAfter: (() => void) | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** The socket's stream while it is corked for this turn of the event loop. */
  private corked: Corkable | undefined;
  /**
   * Live drafts of streamed answers: dropped while null (before the open streams' snapshots are
   * read, which hold their text), held while the snapshots are being read (sent after them), sent
   * at once when undefined.
   */
  private drafts: string[] | null | undefined = null;

  constructor(
    private readonly ctx: SocketContext,
    private readonly socket: SocketLike,
    /** The client's address and Origin header, for the hello; let go after it. */
    private ip: string,
    private origin: string | undefined,
  ) {
    this.openedAt = this.lastFrameAt = ctx.now();
    this.guard = new SocketGuard(ctx.limits, this.openedAt);
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get helloDone(): boolean {
    return this.state === 'open' || this.state === 'closed';
  }

  // ---- inbound ----

  /** A raw frame from the socket; `binary` for a binary frame, which the protocol does not use. */
  onFrame(data: unknown, binary = false): void {
    if (this.state === 'closed' || this.closeAfter) return;
    const now = this.ctx.now();
    this.lastFrameAt = now;
    this.ctx.metrics.hot.framesIn++;
    const frame = binary ? BINARY : decode(textOf(data), this.ctx.limits.maxFrameBytes);
    // Typing within its own small bucket spends none of the socket's tokens (sends are never
    // refused for it); past that bucket it spends them like any frame, so a flood is cut the same.
    const typing = frame !== BINARY && frame.ok && frame.frame.t === 'typing' && this.guard.typing(now);
    const verdict = typing ? 'ok' : this.guard.frame(now);
    if (verdict !== 'ok') {
      if (verdict === 'close') this.fail('RATE_LIMITED');
      else if (verdict === 'warn') this.sendFrame(errorFrame('RATE_LIMITED'));
      return;
    }
    if (this.busy) {
      (this.queue ??= []).push(frame);
      return;
    }
    this.run(frame);
  }

  private run(data: Inbound): void {
    let result: Promise<void> | void;
    try {
      result = this.handle(data);
    } catch (err) {
      this.internal(err);
      return;
    }
    if (result) {
      this.busy = true;
      result.catch((err) => this.internal(err)).finally(() => this.drain());
    }
  }

  private drain(): void {
    this.busy = false;
    if (this.closeAfter) {
      const close = this.closeAfter;
      this.closeAfter = undefined;
      close();
      return;
    }
    for (let queue = this.queue; !this.busy && queue?.length && this.state !== 'closed'; queue = this.queue) this.run(queue.shift()!);
    if (!this.busy && this.queue?.length === 0) this.queue = undefined;
  }

  /** A frame's handling failed: `NOT_READY` (retry) when the engine is unreachable, else `INTERNAL`. */
  private internal(err: unknown, id?: string): void {
    const unavailable = isEngineUnavailable(err);
    if (unavailable) this.ctx.log.warn({ code: 'NOT_READY', conversationId: this.conversationId || undefined }, 'engine unavailable; the client will retry');
    else this.ctx.log.error({ err, conversationId: this.conversationId || undefined }, 'widget frame handling failed');
    const code = unavailable ? 'NOT_READY' : 'INTERNAL';
    // Only a retryable refusal names the send: the client keeps it and sends it again.
    if (this.state === 'open') this.sendFrame(errorFrame(code, undefined, unavailable ? id : undefined));
    else this.failWith(code, CLOSE.GOING_AWAY); // INTERNAL closes like NOT_READY: the client retries
  }

  private handle(r: Inbound): Promise<void> | void {
    if (r === BINARY) {
      const message = 'Binary frames are not accepted: send JSON text frames.';
      return this.state !== 'open' ? this.badFirstFrame('BAD_FRAME', message) : this.refuse('BAD_FRAME', message);
    }
    if (!r.ok) {
      if (r.code === 'TOO_LARGE') return this.fail('TOO_LARGE', r.message);
      if (this.state !== 'open') return this.badFirstFrame(r.code, r.message);
      return this.refuse(r.code, r.message);
    }
    const frame = r.frame;
    if (frame.t === 'hello') {
      if (this.state !== 'new') return this.refuse('BAD_FRAME', 'hello was already received.');
      this.state = 'hello';
      return this.hello(frame);
    }
    if (this.state !== 'open') return this.badFirstFrame('HELLO_REQUIRED');
    switch (frame.t) {
      case 'send':
        return this.visitorSend(frame);
      case 'ping':
        this.sendFrame({ t: 'pong', ts: this.ctx.now() });
        return;
      case 'read':
        return this.visitorRead(frame.seq);
      case 'context':
        return this.visitorContext(frame);
      case 'typing':
        return this.visitorTyping(frame.on);
      case 'feedback':
        return this.visitorFeedback(frame);
      case 'upload':
        return this.visitorUpload(frame);
      case 'history':
        return this.visitorHistory(frame);
    }
  }

  /** An invalid frame after hello: error frame, and a close (PROTOCOL_ERROR, whatever the code) once they pile up. */
  private refuse(code: ErrorCode, message?: string): void {
    if (this.guard.invalidFrame() === 'close') this.failWith(code, CLOSE.PROTOCOL_ERROR, message);
    else this.sendFrame(errorFrame(code, message));
  }

  /** A first frame that is not a valid `hello`: error frame, then close with BAD_HELLO, whatever the code. */
  private badFirstFrame(code: ErrorCode, message?: string): void {
    this.failWith(code, CLOSE.BAD_HELLO, message);
  }

  // ---- hello ----

  private async hello(frame: HelloFrame): Promise<void> {
    const { ctx } = this;
    const result = await handshake(ctx, frame, this.origin, this.ip);
    this.ip = '';
    this.origin = undefined;
    if (isRefusal(result)) return this.fail(result.code);
    if (this.isClosed) return;
    const session = result;
    const { site, conversation } = session;
    this.site = site;
    this.siteKey = site.config.siteKey;
    this.ownerKey = session.ownerKey;
    this.conversationId = session.conversationId;
    this.stored = conversation !== null;
    this.closedConversation = conversation?.closed ?? false;
    if (!conversation) {
      const { visitorId, ownerKey, identity, context, fresh } = session;
      this.draft = { visitorId, ownerKey, identity, context: Object.keys(context).length ? context : undefined, fresh };
    }
    if (conversation) {
      if (session.identity && !sameJson(session.identity, conversation.identity)) await ctx.engine.setIdentity(conversation.id, session.identity);
      if (session.context.page) await ctx.engine.mergeContext(conversation.id, session.context, ctx.limits.maxContextBytes, true);
    }
    if (this.isClosed) return;

    const delivery = new OrderedDelivery(this, session.afterSeq);
    this.delivery = delivery;
    // Join the fan-out before reading the log, so nothing appended meanwhile is missed; live
    // entries wait in the delivery until the replay has been sent.
    this.joined = true;
    await ctx.hub.join(this);
    // The log, and (for a stored conversation) the site side's read mark as of now: one posted
    // since the handshake read the conversation was fanned out before this socket joined.
    const [first, current] = await Promise.all([
      ctx.engine.read(session.conversationId, session.afterSeq, REPLAY_PAGE),
      conversation ? ctx.engine.getConversation(session.conversationId) : null,
    ]);
    const online = (await ctx.engine.getOnline(this.siteKey)) ?? site.config.online;
    if (this.isClosed) return;
    const token = ctx.tokens(this.siteKey).sign({
      siteKey: this.siteKey,
      visitorId: session.visitorId,
      conversationId: session.conversationId,
      ...(session.userId !== undefined ? { userId: session.userId } : {}),
    });
    const welcome: WelcomeFrame = {
      t: 'welcome',
      v: PROTOCOL_VERSION,
      conversationId: session.conversationId,
      visitorId: session.visitorId,
      token,
      lastSeq: first.lastSeq,
      greeting: session.greeting,
      site: { name: site.config.name },
      online,
      limits: { maxFrameBytes: ctx.limits.maxFrameBytes, maxTextLength: LIMITS.maxTextLength, maxQuickReplies: LIMITS.maxQuickReplies },
    };
    if (session.reset) welcome.reset = true;
    if (session.identity) welcome.identity = { userId: session.identity.userId, verified: session.identity.verified };
    this.sendFrame(welcome);
    // A refused identity: the visitor chats anonymously, and the page hears why.
    if (session.identityError) this.sendFrame(errorFrame(session.identityError.code, session.identityError.message));
    this.state = 'open';
    await delivery.start(first);
    // What the site's side has read, for the visitor's "Read": read events are transient, and
    // one posted while this visitor was away (another page, a reconnect, the handshake) would be lost.
    const peerReadSeq = Math.max(conversation?.peerReadSeq ?? 0, current?.peerReadSeq ?? 0);
    if (peerReadSeq && this.state === 'open') this.sendFrame({ t: 'event', ts: ctx.now(), event: { type: 'read', seq: peerReadSeq } });
    // Answers being written: each once, as a draft from offset 0, after the replay. A conversation
    // not stored yet has none; anything started from now on reaches this socket live.
    if (this.stored) await this.sendSnapshots();
    else this.drafts = undefined;
  }

  /**
   * Send the snapshot of each open streamed answer as a draft with offset 0. The socket joined the
   * fan-out before: drafts that arrive while the snapshots are read are held and sent after them
   * (an overlap is harmless: a client keeps `text.slice(0, offset) + delta`).
   */
  private async sendSnapshots(): Promise<void> {
    if (Array.isArray(this.drafts)) return; // a read is in flight; it covers this one
    const held: string[] = [];
    this.drafts = held;
    try {
      const streams = await this.ctx.engine.openStreams(this.conversationId);
      if (this.state !== 'open') return;
      for (const s of streams) this.sendFrame({ t: 'draft', id: s.id, ts: s.updatedAt, from: s.from, offset: 0, text: s.text });
      for (const text of held) this.sendText(text);
    } finally {
      this.drafts = undefined;
    }
  }

  // ---- the visitor's actions ----

  /**
   * Store the conversation if the visitor's first action is what creates it. False when the
   * socket was closed instead: another device of the same owner created the owner's conversation
   * first, and a reconnect joins that one.
   */
  private async ensureStored(): Promise<boolean> {
    const s = this.draft;
    if (this.stored || !s) return true;
    const { conversation } = await this.ctx.engine.openConversation({
      id: this.conversationId,
      siteKey: this.siteKey,
      ownerKey: s.ownerKey,
      visitorId: s.visitorId,
      context: s.context ?? {},
      ...(s.identity ? { identity: s.identity } : {}),
      ...(s.fresh ? { replace: true } : {}),
    });
    if (conversation.id !== this.conversationId) {
      this.close(CLOSE.GOING_AWAY, 'conversation moved');
      return false;
    }
    this.markStored();
    if (conversation.closed) this.closedConversation = true;
    return true;
  }

  /** The conversation is stored: what storing it took is let go. */
  private markStored(): void {
    this.stored = true;
    this.draft = undefined;
  }

  private async visitorSend(frame: SendFrame): Promise<void> {
    if (this.closedConversation && frame.body.type !== 'rating') {
      this.sendFrame(errorFrame('CONVERSATION_CLOSED', undefined, frame.id));
      return;
    }
    // A file must be one the site takes, on one of its upload hosts.
    const refused = frame.body.type === 'file' ? refuseFileMessage(this.site!.config.uploads, frame.body) : undefined;
    if (refused) {
      this.sendFrame(errorFrame(refused, undefined, frame.id));
      return;
    }
    let result;
    try {
      if (!(await this.ensureStored())) return;
      result = await this.ctx.service.appendVisitorMessage(this.site!.config, this.conversationId, frame.id, frame.body);
    } catch (err) {
      // Not acked: the client keeps the message in its outbox and sends it again.
      this.internal(err, frame.id);
      // Sends queued behind this one must not be stored before it: the socket closes with a
      // reconnect code, and the client resends its outbox, in order, on the next connection.
      if (isEngineUnavailable(err)) this.close(CLOSE_OF.NOT_READY, 'NOT_READY');
      return;
    }
    if (!result) {
      // The conversation was removed (retention) while this socket served it: reconnecting starts over.
      this.close(CLOSE.GOING_AWAY, 'conversation gone');
      return;
    }
    const { entry } = result;
    if (entry && (entry.kind !== 'msg' || entry.from.role !== 'visitor')) {
      this.sendFrame(errorFrame('ID_CONFLICT', undefined, frame.id));
      return;
    }
    this.sendFrame({ t: 'ack', id: frame.id, seq: result.seq, ts: result.ts });
  }

  /**
   * 👍/👎 on a bot message of this conversation: a `message.feedback` event for the backend, once
   * per frame id (a resend after a reconnect is a duplicate). Anything but a bot message the log
   * still holds is refused with `NOT_FOUND`, naming the frame.
   */
  private async visitorFeedback(frame: FeedbackFrame): Promise<void> {
    const refused = () => this.sendFrame(errorFrame('NOT_FOUND', 'Feedback is taken on a bot message of this conversation only.', frame.id));
    if (!this.stored) return refused();
    let result;
    try {
      result = await this.ctx.service.feedback(this.site!.config, this.conversationId, frame);
    } catch (err) {
      this.internal(err, frame.id);
      return;
    }
    if (result === 'not-found' || result === null) refused();
  }

  /**
   * The visitor picked a file: ask the site's backend where to upload it (uploads.ts), and answer
   * with the target or an error naming the frame. The conversation is stored first (an upload is
   * the visitor acting). The socket's other frames do not wait for the backend's answer.
   */
  private async visitorUpload(frame: UploadFrame): Promise<void> {
    if (this.closedConversation) return this.sendFrame(errorFrame('CONVERSATION_CLOSED', undefined, frame.id));
    if (this.uploading >= MAX_UPLOADS_IN_FLIGHT) return this.sendFrame(errorFrame('RATE_LIMITED', 'Wait for the files being prepared before attaching more.', frame.id));
    // Refused by the site's allowance before anything is stored.
    const refused = refuseFile(this.site!.config.uploads, frame);
    if (refused) return this.sendFrame(errorFrame(refused, undefined, frame.id));
    if (!(await this.ensureStored())) return;
    this.uploading++;
    void this.ctx.uploads.target(this.site!.config, this.conversationId, frame).then((answer) => {
      this.uploading--;
      if (this.state === 'open') this.sendFrame(answer);
    });
  }

  /**
   * The visitor's past conversations (past-conversations.ts): the list, or a page of one of them,
   * read-only. A failure is answered with an error naming the frame, so the client's request ends.
   */
  private async visitorHistory(frame: HistoryFrame): Promise<void> {
    let answer;
    try {
      answer = await answerHistory(this.ctx.engine, { siteKey: this.siteKey, ownerKey: this.ownerKey, current: this.conversationId }, frame);
    } catch (err) {
      const unavailable = isEngineUnavailable(err);
      if (!unavailable) this.ctx.log.error({ err, conversationId: this.conversationId }, 'reading past conversations failed');
      answer = errorFrame(unavailable ? 'NOT_READY' : 'INTERNAL', undefined, frame.id);
    }
    if (this.state === 'open') this.sendFrame(answer);
  }

  /** Typing reaches the backend throttled per conversation (visitor-activity.ts); nothing is stored. */
  private visitorTyping(on: boolean): void {
    if (!this.stored || this.closedConversation || on === this.typing) return;
    this.typing = on;
    this.ctx.activity.typed(this.site!.config, this.conversationId, on);
  }

  /**
   * The visitor has seen the conversation up to `seq`: at most what this socket was sent. The
   * engine keeps the highest; the backend hears of each raise.
   */
  private async visitorRead(seq: number): Promise<void> {
    if (!this.stored) return;
    const upTo = Math.min(seq, this.delivery?.lastSent ?? 0);
    if (upTo <= this.readSeq) return;
    this.readSeq = upTo;
    const stored = await this.ctx.engine.setReadSeq(this.conversationId, upTo);
    if (stored === upTo) this.ctx.activity.read(this.site!.config, this.conversationId, upTo);
  }

  private async visitorContext(frame: ContextFrame): Promise<void> {
    const { page, product, attrs } = frame;
    const merge = { ...(page ? { page } : {}), ...(product ? { product } : {}), ...(attrs ? { attrs } : {}) };
    const s = this.draft;
    if (!this.stored && s) {
      // Kept with the socket until the conversation is stored.
      const merged = mergeContextValue(s.context ?? {}, merge, this.ctx.limits.maxContextBytes);
      if (!merged.ok) return this.refuse(merged.code, merged.message);
      s.context = merged.context;
      return;
    }
    const result = await this.ctx.service.mergeContext(this.conversationId, merge, this.ctx.limits.maxContextBytes);
    if (result && !result.ok) this.refuse(result.code, result.message);
  }

  // ---- outbound ----

  deliverEntry(entry: LogEntry, text: string): void {
    if (this.state === 'closed') return;
    // Another tab or device created the conversation this socket is waiting for.
    if (!this.stored) this.markStored();
    this.delivery?.live(entry, text);
  }

  resync(): void {
    if (this.state !== 'open') return;
    this.delivery?.resync();
    // Drafts may have been missed too: the snapshots again (a client keeps what it already had).
    if (this.drafts === undefined) this.sendSnapshots().catch((err: unknown) => this.onError(err));
  }

  deliverTransient(text: string): void {
    if (this.state === 'open') this.sendText(text);
  }

  deliverDraft(text: string): void {
    if (this.state !== 'open') return;
    // Before the snapshots were read: they hold this text. While they are read: kept, sent after them.
    if (this.drafts === undefined) this.sendText(text);
    else if (this.drafts !== null && this.drafts.length < MAX_HELD_DRAFTS) this.drafts.push(text);
  }

  // ---- the ordered delivery's port (OrderedDeliveryOptions) ----

  /** Read this conversation's log after a seq. */
  read(afterSeq: number, limit: number): ReturnType<OrderedDeliveryOptions['read']> {
    return this.ctx.engine.read(this.conversationId, afterSeq, limit);
  }

  /** Send one encoded frame. */
  send(text: string): void {
    this.sendText(text);
  }

  /** False once the socket is closing. */
  isOpen(): boolean {
    return this.state === 'open';
  }

  /** A `closed` event in the log closes the conversation for this socket's later sends. */
  onEntry(entry: LogEntry): void {
    if (closesConversation(entry)) this.closedConversation = true;
  }

  /** Reading the log failed. */
  onError(err: unknown): void {
    this.internal(err);
  }

  sendFrame(frame: ServerFrame): void {
    this.sendText(encode(frame));
  }

  /**
   * Send a frame. Frames sent in one turn of the event loop leave in one write: a visitor's own
   * `msg` and its `ack`, a bot reply of several messages, a welcome and its replay page.
   */
  private sendText(text: string): void {
    const { socket } = this;
    if (socket.readyState !== OPEN) return;
    this.gather();
    socket.send(text);
    this.ctx.metrics.hot.framesOut++;
    if (!this.corked || socket.bufferedAmount >= Math.min(BATCH_BYTES, this.ctx.limits.maxBufferedBytes)) this.flush();
  }

  /** Cork the socket's stream until the end of this turn (after the promise jobs it runs). */
  private gather(): void {
    if (this.corked) return;
    const stream = (this.socket as { _socket?: Corkable })._socket;
    if (!stream) return;
    stream.cork();
    this.corked = stream;
    process.nextTick(Connection.flushSoon, this);
  }

  private static flushSoon(conn: Connection): void {
    conn.flush();
  }

  /** Write what was gathered, then judge the backlog: what the reader has not taken yet. */
  private flush(): void {
    const { socket } = this;
    const stream = this.corked;
    this.corked = undefined;
    stream?.uncork();
    if (socket.readyState === OPEN && socket.bufferedAmount > this.ctx.limits.maxBufferedBytes && this.state !== 'closed') {
      // The error frame and the close frame queue behind the backlog; a reader that never drains is cut after the grace.
      socket.send(encode(errorFrame('SLOW_CONSUMER')));
      this.close(CLOSE_OF.SLOW_CONSUMER, 'SLOW_CONSUMER');
    }
  }

  // ---- closing ----

  /** Send an error frame with `code`, then close with the close code the code stands for (`CLOSE_OF`); see `failWith`. */
  fail(code: ClosingErrorCode, message?: string): void {
    this.failWith(code, CLOSE_OF[code], message);
  }

  /**
   * Send an error frame with `code`, then close with `closeCode`: for the closes picked by
   * context, not by the error code (a bad first frame, invalid frames piling up, INTERNAL).
   * While a frame is being handled (a send on its way into the engine), the close waits for it,
   * at most `closeGraceMs`: a message the engine stores gets its `ack` before the socket closes.
   * Frames queued behind it are dropped unhandled (nothing of them is stored; the client sends
   * them again).
   */
  failWith(code: ErrorCode, closeCode: CloseCode, message?: string): void {
    if (this.state === 'closed' || this.closeAfter) return;
    const now = () => {
      this.sendFrame(errorFrame(code, message));
      this.close(closeCode, code);
    };
    if (!this.busy) return now();
    this.queue = undefined;
    this.closeAfter = now;
    const timer = setTimeout(() => {
      if (this.closeAfter !== now) return;
      this.closeAfter = undefined;
      now();
    }, this.ctx.closeGraceMs);
    timer.unref();
  }

  /** Close with a code; a socket that does not finish the close handshake in time is cut. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.ctx.metrics.socketCloses.inc({ code: String(code) });
    if (this.socket.readyState === OPEN) this.socket.close(code, reason);
    this.killTimer = setTimeout(() => this.socket.terminate(), this.ctx.closeGraceMs);
    this.killTimer.unref();
  }

  /** Cut the socket at once (a shutdown whose grace ran out). */
  terminate(): void {
    this.socket.terminate();
  }

  /** The socket is gone: forget it. */
  onClosed(): void {
    // A visitor typing when the socket went is typing no more.
    if (this.typing && this.site) this.ctx.activity.typed(this.site.config, this.conversationId, false);
    this.typing = false;
    this.state = 'closed';
    if (this.killTimer) clearTimeout(this.killTimer);
    this.queue = undefined;
    this.delivery?.clear();
    if (this.joined) this.ctx.hub.leave(this);
    this.joined = false;
  }
}
