import {
  HANDOFF_VALUE,
  type ConversationEvent,
  type LogEntry,
  type Message,
  type OutgoingMessage,
  type Sender,
  type VisitorBody,
  type VisitorContext,
  type WebhookEvent,
  type WebhookEventType,
} from '@parley/protocol';
import type { SiteConfig } from './config.js';
import type { AppendResult, Conversation, Engine, Retention, WebhookJob } from './engine/types.js';
import { newId } from './ids.js';
import type { WebhookWorker } from './webhook-worker.js';

const VISITOR: Sender = { role: 'visitor' };
const BOT: Sender = { role: 'bot' };

/** Event types that are pushed but never stored (no seq, no replay). */
export const TRANSIENT_EVENTS: ReadonlySet<ConversationEvent['type']> = new Set(['typing', 'read', 'availability']);

/** The webhook type a visitor body produces. */
export function webhookTypeOf(body: VisitorBody): WebhookEventType {
  if (body.type === 'postback') return body.value === HANDOFF_VALUE ? 'handoff.requested' : 'postback';
  if (body.type === 'rating') return 'rating.submitted';
  return 'message.created';
}

/** A log entry without its `kind`, as webhooks and REST answers carry it. */
export function toMessage(entry: Extract<LogEntry, { kind: 'msg' }>): Message {
  return { seq: entry.seq, id: entry.id, ts: entry.ts, from: entry.from, body: entry.body } as Message;
}

/**
 * The one place that writes conversations: append to the log, fan out, enqueue webhooks.
 * The widget socket and the backend REST API both go through it.
 */
export class ConversationService {
  private readonly retentions = new Map<string, Retention>();

  constructor(
    private readonly engine: Engine,
    private readonly worker: WebhookWorker,
    private readonly now: () => number,
  ) {}

  retention(site: SiteConfig): Retention {
    let r = this.retentions.get(site.siteKey);
    if (!r) {
      r = { maxMessages: site.retention.maxMessages, maxAgeMs: site.retention.maxAgeHours * 3600_000 };
      this.retentions.set(site.siteKey, r);
    }
    return r;
  }

  /** Append a visitor message (idempotent on `id`). Call `afterVisitorMessage` once the sender is acked. */
  appendVisitorMessage(site: SiteConfig, conversationId: string, id: string, body: VisitorBody): Promise<AppendResult> {
    return this.engine.append(conversationId, { kind: 'msg', id, ts: this.now(), from: VISITOR, body }, this.retention(site));
  }

  /** Fan out a new visitor message and enqueue its webhook (with `conversation.started` first, once). */
  async afterVisitorMessage(conversation: Conversation, result: AppendResult, body: VisitorBody): Promise<void> {
    await this.engine.publish({ kind: 'entry', conversationId: conversation.id, entry: result.entry });
    const entry = result.entry as Extract<LogEntry, { kind: 'msg' }>;
    await this.webhooks(conversation, webhookTypeOf(body), { message: toMessage(entry) });
  }

  /** Append a backend message (REST or inline reply) and fan it out. */
  async appendBackendMessage(site: SiteConfig, conversationId: string, message: OutgoingMessage & { id: string }): Promise<AppendResult> {
    const result = await this.engine.append(
      conversationId,
      { kind: 'msg', id: message.id, ts: this.now(), from: message.from ?? BOT, body: message.body },
      this.retention(site),
    );
    if (!result.duplicate) await this.engine.publish({ kind: 'entry', conversationId, entry: result.entry });
    return result;
  }

  /** Store and fan out an event, or only push it when it is transient. */
  async appendEvent(site: SiteConfig, conversationId: string, event: ConversationEvent, id?: string): Promise<AppendResult | null> {
    if (TRANSIENT_EVENTS.has(event.type)) {
      await this.engine.publish({ kind: 'transient', conversationId, ts: this.now(), event });
      return null;
    }
    const result = await this.engine.append(conversationId, { kind: 'event', id: id ?? newId('ev_'), ts: this.now(), event }, this.retention(site));
    if (result.duplicate) return result;
    if (event.type === 'closed') await this.engine.updateConversation(conversationId, { closed: true });
    await this.engine.publish({ kind: 'entry', conversationId, entry: result.entry });
    return result;
  }

  /** Store the visitor's context; send `context.updated` if the conversation has started. */
  async updateContext(conversation: Conversation, context: VisitorContext): Promise<Conversation | null> {
    const updated = await this.engine.updateConversation(conversation.id, { context });
    if (updated?.started) await this.enqueue([this.job(updated, 'context.updated', { context })]);
    return updated;
  }

  private async webhooks(conversation: Conversation, type: WebhookEventType, data: unknown): Promise<void> {
    const jobs: WebhookJob[] = [];
    let current = conversation;
    if (!conversation.started && (await this.engine.markStarted(conversation.id))) {
      current = (await this.engine.getConversation(conversation.id)) ?? conversation;
      conversation.started = true;
      jobs.push(this.job(current, 'conversation.started', { context: current.context }));
    }
    jobs.push(this.job(current, type, data));
    await this.enqueue(jobs);
  }

  private async enqueue(jobs: WebhookJob[]): Promise<void> {
    await this.engine.enqueueWebhooks(jobs);
    this.worker.kick();
  }

  private job(conversation: Conversation, type: WebhookEventType, data: unknown): WebhookJob {
    const now = this.now();
    const id = newId('evt_');
    const visitor: WebhookEvent['visitor'] = { id: conversation.visitorId };
    if (conversation.identity) visitor.identity = { ...conversation.identity };
    const event = { id, type, createdAt: now, siteKey: conversation.siteKey, conversationId: conversation.id, visitor, data } as WebhookEvent;
    return { id, siteKey: conversation.siteKey, conversationId: conversation.id, event, attempts: 0, enqueuedAt: now, dueAt: now };
  }
}
