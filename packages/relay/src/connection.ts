import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import {
  CLOSE,
  LIMITS,
  PROTOCOL_VERSION,
  decode,
  encode,
  verifyHmacSha256Hex,
  type ContextFrame,
  type ErrorCode,
  type HelloFrame,
  type LogEntry,
  type SendFrame,
  type ServerFrame,
  type WelcomeFrame,
} from '@parley/protocol';
import type { LimitsConfig, SiteConfig } from './config.js';
import type { ConversationService } from './conversation-service.js';
import type { Conversation, ConversationIdentity, Engine } from './engine/types.js';
import { errorFrame } from './errors.js';
import { entryFrame, type Hub, type HubMember } from './hub.js';
import { newId } from './ids.js';
import type { RelayMetrics } from './plugins/metrics.js';
import { takeToken, type TokenBucket } from './token-bucket.js';
import { signVisitorToken, verifyVisitorToken, type VisitorClaims } from './visitor-token.js';

/** A configured site with its origin allow-list ready for lookups. */
export interface SiteRuntime {
  config: SiteConfig;
  anyOrigin: boolean;
  origins: ReadonlySet<string>;
}

/** Everything a connection needs, shared by all connections of one app. */
export interface SocketContext {
  sites: ReadonlyMap<string, SiteRuntime>;
  limits: LimitsConfig;
  tokenSecret: string;
  engine: Engine;
  service: ConversationService;
  hub: Hub;
  metrics: RelayMetrics;
  log: FastifyBaseLogger;
  now: () => number;
  /** Grace before a closing socket that does not answer the close handshake is cut. */
  closeGraceMs: number;
}

/** What a socket needs to offer; `ws` sockets do. */
export type SocketLike = Pick<WebSocket, 'send' | 'close' | 'terminate' | 'readyState' | 'bufferedAmount'>;

const OPEN = 1;
const REPLAY_PAGE = 200;

type State = 'new' | 'hello' | 'open' | 'closed';

/** One widget socket: hello handshake, frame handling, ordered delivery, protections. */
export class Connection implements HubMember {
  conversationId = '';
  siteKey = '';
  readonly openedAt: number;
  lastFrameAt: number;
  private state: State = 'new';
  private site: SiteRuntime | undefined;
  private conversation: Conversation | undefined;
  private readonly bucket: TokenBucket;
  private strikes = 0;
  private invalid = 0;
  /** Highest seq sent to this socket. */
  private sent = 0;
  /** While true, live entries wait in `pending` (replay or gap fill is running). */
  private catching = false;
  private pending: Map<number, string> | undefined;
  private busy = false;
  private readonly queue: unknown[] = [];
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: SocketContext,
    private readonly socket: SocketLike,
    readonly ip: string,
    private readonly origin: string | undefined,
  ) {
    this.openedAt = this.lastFrameAt = ctx.now();
    this.bucket = { tokens: ctx.limits.rateLimit.burst, at: this.openedAt };
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get helloDone(): boolean {
    return this.state === 'open' || this.state === 'closed';
  }

  // ---- inbound ----

  /** A raw frame from the socket. */
  onFrame(data: unknown): void {
    if (this.state === 'closed') return;
    const now = this.ctx.now();
    this.lastFrameAt = now;
    this.ctx.metrics.hot.framesIn++;
    if (!this.takeToken(now)) return;
    if (this.busy) {
      this.queue.push(data);
      return;
    }
    this.run(data);
  }

  private run(data: unknown): void {
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
    while (!this.busy && this.queue.length && this.state !== 'closed') this.run(this.queue.shift());
  }

  private internal(err: unknown): void {
    this.ctx.log.error({ err, conversationId: this.conversationId || undefined }, 'widget frame handling failed');
    if (this.state === 'open') this.sendFrame(errorFrame('INTERNAL'));
    else this.fail('INTERNAL', CLOSE.GOING_AWAY);
  }

  private takeToken(now: number): boolean {
    if (takeToken(this.bucket, now, this.ctx.limits.rateLimit)) {
      this.strikes = 0;
      return true;
    }
    this.strikes++;
    if (this.strikes > this.ctx.limits.rateLimitStrikes) this.fail('RATE_LIMITED', CLOSE.RATE_LIMITED);
    else if (this.strikes === 1) this.sendFrame(errorFrame('RATE_LIMITED'));
    return false;
  }

  private handle(data: unknown): Promise<void> | void {
    const r = decode(data, this.ctx.limits.maxFrameBytes);
    if (!r.ok) {
      if (r.code === 'TOO_LARGE') return this.fail('TOO_LARGE', CLOSE.FRAME_TOO_LARGE, r.message);
      if (this.state !== 'open') return this.fail(r.code, CLOSE.BAD_HELLO, r.message);
      return this.refuse(r.code, r.message);
    }
    const frame = r.frame;
    if (frame.t === 'hello') {
      if (this.state !== 'new') return this.refuse('BAD_FRAME', 'hello was already received.');
      this.state = 'hello';
      return this.hello(frame);
    }
    if (this.state !== 'open') return this.fail('HELLO_REQUIRED', CLOSE.BAD_HELLO);
    switch (frame.t) {
      case 'send':
        return this.send(frame);
      case 'ping':
        this.sendFrame({ t: 'pong', ts: this.ctx.now() });
        return;
      case 'read':
        return this.read(frame.seq);
      case 'context':
        return this.context(frame);
      case 'typing':
        // Visitor typing is not forwarded to the backend.
        return;
    }
  }

  /** An invalid frame after hello: error frame, and a close once they pile up. */
  private refuse(code: ErrorCode, message?: string): void {
    this.invalid++;
    if (this.invalid >= this.ctx.limits.maxInvalidFrames) this.fail(code, CLOSE.PROTOCOL_ERROR, message);
    else this.sendFrame(errorFrame(code, message));
  }

  // ---- hello ----

  private async hello(frame: HelloFrame): Promise<void> {
    const { ctx } = this;
    if (frame.v !== PROTOCOL_VERSION) return this.fail('UNSUPPORTED_VERSION', CLOSE.UNSUPPORTED_VERSION);
    const site = ctx.sites.get(frame.siteKey);
    if (!site) return this.fail('BAD_SITE_KEY', CLOSE.BAD_SITE_KEY);
    if (!site.anyOrigin && (this.origin === undefined || !site.origins.has(this.origin))) return this.fail('ORIGIN_REFUSED', CLOSE.ORIGIN_REFUSED);

    let identity: ConversationIdentity | undefined;
    if (frame.identity) {
      const { userId, name, email, attrs, signature } = frame.identity;
      let verified = false;
      if (signature && site.config.identitySecret) {
        verified = await verifyHmacSha256Hex(site.config.identitySecret, userId, signature);
        if (!verified) return this.fail('IDENTITY_INVALID', CLOSE.IDENTITY_INVALID);
      }
      identity = { userId, verified };
      if (name !== undefined) identity.name = name;
      if (email !== undefined) identity.email = email;
      if (attrs !== undefined) identity.attrs = attrs;
    }
    const userId = identity?.verified ? identity.userId : undefined;

    let claims: VisitorClaims | null = null;
    if (frame.token !== undefined) {
      claims = verifyVisitorToken(ctx.tokenSecret, frame.token);
      if (!claims || claims.siteKey !== site.config.siteKey) return this.fail('TOKEN_INVALID', CLOSE.TOKEN_INVALID);
      // A token issued to a signed-in user does not carry over to someone else (or to a signed-out page).
      if (claims.userId !== undefined && claims.userId !== userId) claims = null;
    }
    if (this.isClosed) return;

    const siteKey = site.config.siteKey;
    const visitorId = claims?.visitorId ?? newId('v_');
    const ownerKey = userId !== undefined ? `u:${userId}` : `v:${visitorId}`;
    let conversation: Conversation | null = null;
    if (!frame.fresh) {
      const candidate = userId === undefined && claims ? claims.conversationId : await ctx.engine.currentConversation(siteKey, ownerKey);
      if (candidate) {
        conversation = await ctx.engine.getConversation(candidate);
        if (conversation && conversation.siteKey !== siteKey) conversation = null;
      }
    }
    const context = frame.page ? { page: frame.page } : undefined;
    if (!conversation) {
      conversation = {
        id: newId('c_'),
        siteKey,
        visitorId,
        createdAt: ctx.now(),
        started: false,
        closed: false,
        context: context ?? {},
        readSeq: 0,
      };
      if (identity) conversation.identity = identity;
      await ctx.engine.createConversation(conversation, ownerKey);
    } else if (context || identity) {
      const patch: Partial<Conversation> = {};
      if (context) patch.context = { ...conversation.context, ...context };
      if (identity) patch.identity = identity;
      conversation = (await ctx.engine.updateConversation(conversation.id, patch)) ?? conversation;
    }
    if (this.isClosed) return;

    this.site = site;
    this.conversation = conversation;
    this.siteKey = siteKey;
    this.conversationId = conversation.id;
    // Join the fan-out before reading the log, so nothing appended meanwhile is missed;
    // live entries wait in `pending` until the replay has been sent.
    this.catching = true;
    this.sent = frame.lastSeq ?? 0;
    ctx.hub.add(this);
    const first = await ctx.engine.read(conversation.id, this.sent, REPLAY_PAGE);
    const online = (await ctx.engine.getOnline(siteKey)) ?? site.config.online;
    if (this.isClosed) return;
    const token = signVisitorToken(ctx.tokenSecret, {
      siteKey,
      visitorId: conversation.visitorId,
      conversationId: conversation.id,
      ...(userId !== undefined ? { userId } : {}),
    });
    const welcome: WelcomeFrame = {
      t: 'welcome',
      v: PROTOCOL_VERSION,
      conversationId: conversation.id,
      visitorId: conversation.visitorId,
      token,
      lastSeq: first.lastSeq,
      greeting: site.config.greeting,
      site: { name: site.config.name },
      online,
      limits: { maxFrameBytes: ctx.limits.maxFrameBytes, maxTextLength: LIMITS.maxTextLength, maxQuickReplies: LIMITS.maxQuickReplies },
    };
    if (identity) welcome.identity = { userId: identity.userId, verified: identity.verified };
    this.sendFrame(welcome);
    this.state = 'open';
    if (this.sent > first.lastSeq) this.sent = first.lastSeq;
    this.sendEntries(first.entries);
    await this.catchUp(first.hasMore);
  }

  // ---- frames after hello ----

  private async send(frame: SendFrame): Promise<void> {
    const site = this.site!;
    const conversation = this.conversation!;
    if (conversation.closed && frame.body.type !== 'rating') {
      this.sendFrame(errorFrame('CONVERSATION_CLOSED', undefined, frame.id));
      return;
    }
    const result = await this.ctx.service.appendVisitorMessage(site.config, conversation.id, frame.id, frame.body);
    const { entry } = result;
    if (entry.kind !== 'msg' || entry.from.role !== 'visitor') {
      this.sendFrame(errorFrame('ID_CONFLICT', undefined, frame.id));
      return;
    }
    this.sendFrame({ t: 'ack', id: entry.id, seq: entry.seq, ts: entry.ts });
    if (!result.duplicate) await this.ctx.service.afterVisitorMessage(conversation, result, frame.body);
  }

  private async read(seq: number): Promise<void> {
    const conversation = this.conversation!;
    if (seq <= conversation.readSeq) return;
    conversation.readSeq = seq;
    await this.ctx.engine.updateConversation(conversation.id, { readSeq: seq });
  }

  private async context(frame: ContextFrame): Promise<void> {
    const conversation = this.conversation!;
    const context = { ...conversation.context };
    if (frame.page) context.page = frame.page;
    if (frame.product) context.product = frame.product;
    if (frame.attrs) context.attrs = frame.attrs;
    conversation.context = context;
    const updated = await this.ctx.service.updateContext(conversation, context);
    if (updated) conversation.started = updated.started;
  }

  // ---- outbound ----

  deliverEntry(entry: LogEntry, text: string): void {
    if (this.state === 'closed') return;
    this.noteClosed(entry);
    if (entry.seq <= this.sent) return;
    if (this.catching || entry.seq !== this.sent + 1) {
      (this.pending ??= new Map()).set(entry.seq, text);
      if (!this.catching) void this.catchUp(true);
      return;
    }
    this.sent = entry.seq;
    this.sendText(text);
  }

  deliverTransient(text: string): void {
    if (this.state === 'open') this.sendText(text);
  }

  /**
   * Send everything after `sent` in order: read the log while `more` says so, then the live
   * entries that arrived meanwhile. Gaps (entries published out of order by several
   * instances) are filled from the log.
   */
  private async catchUp(more: boolean): Promise<void> {
    this.catching = true;
    try {
      for (;;) {
        while (more && this.state === 'open') {
          const page = await this.ctx.engine.read(this.conversationId, this.sent, REPLAY_PAGE);
          this.sendEntries(page.entries);
          more = page.hasMore;
        }
        if (this.state !== 'open') return;
        const pending = this.pending;
        if (!pending || pending.size === 0) return;
        for (const seq of [...pending.keys()].sort((a, b) => a - b)) {
          if (seq <= this.sent) pending.delete(seq);
          else if (seq === this.sent + 1) {
            this.sent = seq;
            this.sendText(pending.get(seq)!);
            pending.delete(seq);
          } else break;
        }
        if (pending.size === 0) return;
        more = true;
      }
    } finally {
      this.catching = false;
    }
  }

  private sendEntries(entries: LogEntry[]): void {
    for (const entry of entries) {
      if (entry.seq <= this.sent) continue;
      this.sent = entry.seq;
      this.noteClosed(entry);
      this.sendText(encode(entryFrame(entry)));
    }
  }

  /** A `closed` event in the log closes the conversation for this socket's later sends. */
  private noteClosed(entry: LogEntry): void {
    if (entry.kind === 'event' && entry.event.type === 'closed' && this.conversation) this.conversation.closed = true;
  }

  sendFrame(frame: ServerFrame): void {
    this.sendText(encode(frame));
  }

  private sendText(text: string): void {
    const { socket } = this;
    if (socket.readyState !== OPEN) return;
    socket.send(text);
    this.ctx.metrics.hot.framesOut++;
    if (socket.bufferedAmount > this.ctx.limits.maxBufferedBytes && this.state !== 'closed') {
      // The error frame and the close frame queue behind the backlog; a reader that never drains is cut after the grace.
      socket.send(encode(errorFrame('SLOW_CONSUMER')));
      this.close(CLOSE.SLOW_CONSUMER, 'SLOW_CONSUMER');
    }
  }

  // ---- closing ----

  /** Send an error frame with `code`, then close with `closeCode`. */
  fail(code: ErrorCode, closeCode: number, message?: string): void {
    if (this.state === 'closed') return;
    this.sendFrame(errorFrame(code, message));
    this.close(closeCode, code);
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

  /** The socket is gone: forget it. */
  onClosed(): void {
    this.state = 'closed';
    if (this.killTimer) clearTimeout(this.killTimer);
    this.queue.length = 0;
    this.pending = undefined;
    if (this.conversationId) this.ctx.hub.remove(this);
  }
}
