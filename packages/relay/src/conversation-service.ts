import {
  HANDOFF_VALUE,
  isStoredEvent,
  type ConversationEvent,
  type FeedbackFrame,
  type OutgoingMessage,
  type Sender,
  type VisitorBody,
  type VisitorContext,
} from '@parley/protocol';
import type { SiteConfig } from './config.js';
import type { AppendResult, Engine, FeedbackResult, MergeResult, MessageWebhookType, Retention } from './engine/types.js';
import { newId } from './ids.js';

const VISITOR: Sender = { role: 'visitor' };
const BOT: Sender = { role: 'bot' };

/** The webhook type a visitor body produces. */
function webhookTypeOf(body: VisitorBody): MessageWebhookType {
  if (body.type === 'postback') return body.value === HANDOFF_VALUE ? 'handoff.requested' : 'postback';
  if (body.type === 'rating') return 'rating.submitted';
  return 'message.created';
}

/**
 * What the widget socket and the backend REST API do to a conversation, each as one engine
 * operation (the engine appends, enqueues and fans out atomically); after each one that may have
 * queued a webhook, the `onQueued` listener runs (the relay points it at a signal the delivery
 * worker listens to, so the service never refers to the worker, which appends replies through it:
 * see plugins/lifecycle.ts).
 */
export class ConversationService {
  private readonly retentions = new Map<string, Retention>();

  /** Conversations whose last `context.updated` was queued less than `contextIntervalMs` ago; `dirty` once more context came since. */
  private readonly contextWindows = new Map<string, { dirty: boolean }>();

  private kick: () => void = () => {};

  constructor(
    private readonly engine: Engine,
    /** At most one `context.updated` webhook per conversation per this many ms. Default 5000. */
    private readonly contextIntervalMs = 5000,
  ) {}

  /** Call `listener` after each operation that may have queued webhooks. */
  onQueued(listener: () => void): void {
    this.kick = listener;
  }

  retention(site: SiteConfig): Retention {
    let r = this.retentions.get(site.siteKey);
    if (!r) {
      r = { maxMessages: site.retention.maxMessages, maxAgeMs: site.retention.maxAgeHours * 3600_000 };
      this.retentions.set(site.siteKey, r);
    }
    return r;
  }

  /**
   * Append a visitor message with its webhook (and `conversation.started` ahead of it, once),
   * idempotent on `id`. Null when the conversation does not exist.
   */
  async appendVisitorMessage(site: SiteConfig, conversationId: string, id: string, body: VisitorBody): Promise<AppendResult | null> {
    const result = await this.engine.append({
      conversationId,
      entry: { kind: 'msg', id, from: VISITOR, body },
      retention: this.retention(site),
      webhook: webhookTypeOf(body),
      start: true,
    });
    // An event queued behind an earlier one of its conversation needs no look: settling that one looks.
    if (result && !result.duplicate && result.queuedHead !== false) this.kick();
    return result;
  }

  /**
   * Enqueue a visitor's feedback on a bot message as a `message.feedback` event, once per frame id.
   * Null when the conversation does not exist.
   */
  async feedback(site: SiteConfig, conversationId: string, frame: FeedbackFrame): Promise<FeedbackResult | null> {
    const result = await this.engine.enqueueFeedback({
      conversationId,
      id: frame.id,
      messageId: frame.messageId,
      value: frame.value,
      ...(frame.comment !== undefined ? { comment: frame.comment } : {}),
      retention: this.retention(site),
    });
    if (result === 'queued') this.kick();
    return result;
  }

  /** Append a backend message (REST or inline reply), idempotent on its id. Null when the conversation does not exist. */
  appendBackendMessage(site: SiteConfig, conversationId: string, message: OutgoingMessage & { id: string }): Promise<AppendResult | null> {
    return this.engine.append({
      conversationId,
      entry: { kind: 'msg', id: message.id, from: message.from ?? BOT, body: message.body },
      retention: this.retention(site),
    });
  }

  /**
   * Store an event (fanned out by the engine), or only push it when it is transient (`'transient'`;
   * a `read` of the site's side also raises the conversation's `peerReadSeq`).
   * Null when the conversation does not exist.
   */
  async appendEvent(site: SiteConfig, conversationId: string, event: ConversationEvent, id?: string): Promise<AppendResult | 'transient' | null> {
    if (!isStoredEvent(event.type)) {
      // The site side's read mark is kept too (never lowered), for a widget that connects later.
      if (event.type === 'read' && event.from?.role !== 'visitor') await this.engine.setPeerReadSeq(conversationId, event.seq);
      await this.engine.publish({ kind: 'transient', conversationId, ts: this.engine.now(), event });
      return 'transient';
    }
    return this.engine.append({ conversationId, entry: { kind: 'event', id: id ?? newId('ev_'), event }, retention: this.retention(site) });
  }

  /**
   * Merge the visitor's context. Once the conversation has started, a `context.updated` webhook
   * follows, coalesced per conversation: the first change queues one at once; changes within
   * `contextIntervalMs` after it are stored quietly, and one webhook carrying the latest context
   * goes when the interval ends. A page that sends context frames in a loop costs the backend one
   * webhook per interval, not one per frame.
   */
  async mergeContext(conversationId: string, patch: VisitorContext, maxBytes: number): Promise<MergeResult | null> {
    const window = this.contextIntervalMs > 0 ? this.contextWindows.get(conversationId) : undefined;
    if (window) {
      const result = await this.engine.mergeContext(conversationId, patch, maxBytes, true);
      if (result?.ok && result.conversation.started) window.dirty = true;
      return result;
    }
    // Opened before the engine call, so a second frame arriving meanwhile is coalesced too.
    if (this.contextIntervalMs > 0) this.openContextWindow(conversationId, maxBytes);
    const result = await this.engine.mergeContext(conversationId, patch, maxBytes);
    if (result?.ok && result.conversation.started) this.kick();
    return result;
  }

  private openContextWindow(conversationId: string, maxBytes: number): void {
    const window = { dirty: false };
    this.contextWindows.set(conversationId, window);
    const timer = setTimeout(() => {
      this.contextWindows.delete(conversationId);
      if (!window.dirty) return;
      // An empty patch queues `context.updated` with the context as it stands: the latest wins.
      this.openContextWindow(conversationId, maxBytes);
      this.engine.mergeContext(conversationId, {}, maxBytes).then(
        (result) => {
          if (result?.ok && result.conversation.started) this.kick();
        },
        // The engine is unreachable: this update is dropped; the next change queues one again.
        () => this.contextWindows.delete(conversationId),
      );
    }, this.contextIntervalMs);
    timer.unref();
  }
}
