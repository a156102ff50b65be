import type { FastifyBaseLogger } from 'fastify';
import type { BackendReadFrame, BackendTypingFrame, WebhookEvent } from '@parley/protocol';
import type { BackendSockets } from './backend-socket.js';
import type { SiteConfig } from './config.js';
import { makeJob } from './engine/shared.js';
import { isEngineUnavailable, type Engine } from './engine/types.js';
import { newId } from './ids.js';

export interface VisitorActivityOptions {
  engine: Pick<Engine, 'getConversation' | 'publish'>;
  /** The backend socket a conversation's frames go to on this instance, if any. */
  sockets: Pick<BackendSockets, 'pick'>;
  /** POST an ephemeral webhook once. */
  sendOnce: (site: SiteConfig, event: WebhookEvent) => Promise<unknown>;
  now: () => number;
  /** At most one typing `on` per conversation per this many ms. */
  typingIntervalMs: number;
  log: FastifyBaseLogger;
}

/** The typing of one conversation as the backend was told it, and as the visitor last sent it. */
interface Typing {
  site: SiteConfig;
  /** What the backend was told last. */
  told: boolean;
  /** When the backend was last told `on`. */
  onAt: number;
  /** What the visitor sent last. */
  wants: boolean;
  /** Wakes when the interval after `onAt` ends: a later `on` goes then, or the record is dropped. */
  timer: NodeJS.Timeout | undefined;
}

/**
 * The visitor's typing and read marks, on their way to the backend: ephemeral (never queued, never
 * acked, never retried), over the conversation's backend socket on this instance, else as webhooks
 * when the site set `activityWebhooks`, else through the engine's fan-out to a socket of the site
 * on another relay instance (backend-socket.ts), if any.
 *
 * Typing is throttled per conversation, however many tabs and frames: an `on` goes at once unless
 * one went within `typingIntervalMs`, in which case it goes when that interval ends if the visitor
 * is still typing then; an `off` goes only after an `on`. A burst of frames costs the backend two
 * (`on`, `off`) per interval. A conversation's record lives while typing and one interval after.
 */
export class VisitorActivity {
  private readonly typing = new Map<string, Typing>();
  /** Webhooks of a conversation go one after another, so an `off` never overtakes its `on`. */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly o: VisitorActivityOptions) {}

  /** The visitor of `conversationId` started (`on`) or stopped typing. */
  typed(site: SiteConfig, conversationId: string, on: boolean): void {
    let t = this.typing.get(conversationId);
    if (!t) {
      if (!on) return;
      t = { site, told: false, onAt: -Infinity, wants: false, timer: undefined };
      this.typing.set(conversationId, t);
    }
    t.wants = on;
    if (on === t.told) return;
    if (!on) {
      t.told = false;
      this.send(t.site, conversationId, { type: 'typing', on: false });
      return;
    }
    if (!t.timer) this.tell(conversationId, t);
  }

  /** The visitor of `conversationId` has read up to `seq` (the engine raised its read seq to it). */
  read(site: SiteConfig, conversationId: string, seq: number): void {
    this.send(site, conversationId, { type: 'read', seq });
  }

  /** Forget every record (the relay is closing). */
  clear(): void {
    for (const t of this.typing.values()) clearTimeout(t.timer);
    this.typing.clear();
  }

  /** Tell the backend `on`, and wake when the interval ends. */
  private tell(conversationId: string, t: Typing): void {
    t.told = true;
    t.onAt = this.o.now();
    this.send(t.site, conversationId, { type: 'typing', on: true });
    t.timer = setTimeout(() => this.wake(conversationId, t), this.o.typingIntervalMs);
    t.timer.unref();
  }

  private wake(conversationId: string, t: Typing): void {
    t.timer = undefined;
    if (t.wants && !t.told) this.tell(conversationId, t);
    else if (!t.wants && this.typing.get(conversationId) === t) this.typing.delete(conversationId);
  }

  private send(site: SiteConfig, conversationId: string, what: { type: 'typing'; on: boolean } | { type: 'read'; seq: number }): void {
    const ts = this.o.now();
    const frame: BackendTypingFrame | BackendReadFrame =
      what.type === 'typing' ? { t: 'typing', conversationId, on: what.on, ts } : { t: 'read', conversationId, seq: what.seq, ts };
    const link = this.o.sockets.pick(site.siteKey, conversationId);
    if (link) {
      link.send(frame);
      return;
    }
    if (!site.activityWebhooks || site.backendSocket === 'only' || !site.webhookUrl) {
      // A socket of the site held by another relay instance gets it (nobody, when none is).
      if (site.backendSocket !== 'off') this.o.engine.publish({ kind: 'backend', siteKey: site.siteKey, frame }).catch(() => {});
      return;
    }
    const tail = (this.tails.get(conversationId) ?? Promise.resolve()).then(() => this.webhook(site, conversationId, what));
    this.tails.set(conversationId, tail);
    void tail.then(() => {
      if (this.tails.get(conversationId) === tail) this.tails.delete(conversationId);
    });
  }

  private async webhook(site: SiteConfig, conversationId: string, what: { type: 'typing'; on: boolean } | { type: 'read'; seq: number }): Promise<void> {
    try {
      const conversation = await this.o.engine.getConversation(conversationId);
      if (!conversation) return;
      const id = newId('evt_');
      const event =
        what.type === 'typing'
          ? makeJob(conversation, id, 'visitor.typing', { on: what.on }, this.o.now()).event
          : makeJob(conversation, id, 'visitor.read', { seq: what.seq }, this.o.now()).event;
      await this.o.sendOnce(site, event);
    } catch (err) {
      // Ephemeral: a lost one is not sent again.
      if (!isEngineUnavailable(err)) this.o.log.warn({ err, conversationId }, 'sending a visitor activity webhook failed');
    }
  }
}
