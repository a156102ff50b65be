import { createHash } from 'node:crypto';
import {
  HANDOFF_VALUE,
  RelayError,
  newId,
  type ConversationEvent,
  type LogEntry,
  type OutgoingMessage,
  type RelayClient,
  type Sender,
  type WebhookEvent,
} from '@parley/backend';
import { answerQuestion } from './answerer.js';
import { AI_BROKE_OFF, HANDOFF_TEXT, HANDOFF_WORDS, RATING_TEXT, aiBotOf, answerPostback, answerText, botOf, contactThanks, menu } from './faq-bot.js';
import { buttonLocale, detectLocale, type Locale } from './locale.js';
import { isOpen, type OpenHours } from './open-hours.js';
import { DemoStore, type ContactRecord, type ConversationRecord, type FeedbackRecord, type RatingRecord, type TranscriptEntry } from './store.js';
import { paceWords } from './words.js';

/** The AI mode: free text is answered by the local answerer, streamed word by word. */
export interface AiOptions {
  /** Milliseconds between two streamed words. */
  wordMs: number;
  /**
   * The chunks an answer is streamed in. Default: its words, one every `wordMs`. A merchant
   * passes a model's text stream here; tests pass one that fails or stalls.
   */
  write?: (text: string, signal: AbortSignal) => AsyncIterable<string>;
}

export interface DeskOptions {
  relay: RelayClient;
  /** Base URL of the shop, for product and order images and links. */
  shopUrl: string;
  agent: Sender & { role: 'agent' };
  openHours: OpenHours | null;
  now: () => number;
  log: (line: string) => void;
  /** State saved by an earlier run (see desk-file.ts). */
  saved?: DeskState | null;
  /** Answer free text with the streamed AI answerer; null: the FAQ bot answers everything. */
  ai?: AiOptions | null;
}

/** What the desk keeps across a restart. */
export interface DeskState {
  switchOn: boolean;
  conversations: ConversationRecord[];
  ratings: RatingRecord[];
  contacts: ContactRecord[];
  /** Thumbs on AI answers, newest first (absent in files from before it existed). */
  feedback?: FeedbackRecord[];
  /** The latest inline replies by webhook id, oldest first: a delivery retried after a restart still gets the same answer. */
  replies: [webhookId: string, messages: OutgoingMessage[]][];
}

/** Inline replies remembered per webhook id in memory, and in a saved state. */
const MAX_REPLIES = 10_000;
const MAX_SAVED_REPLIES = 1_000;


/**
 * The merchant's side of every conversation: the bot's answers, the human queue, the agent's
 * actions and the site's availability. Webhook handling is synchronous (the answer goes back
 * inline at once); REST calls that can wait run in the background, tracked by `settled()`.
 */
export class Desk {
  readonly store: DemoStore;
  /** The console's demo switch: agents online or not. */
  switchOn = true;
  /** What the relay was last told; undefined until it heard. */
  online: boolean | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  private queueChain: Promise<void> = Promise.resolve();
  private readonly replies = new Map<string, OutgoingMessage[]>();
  /** AI answers being written or waiting their turn, per conversation: a handoff or an agent stops them. */
  private readonly answering = new Map<string, { controllers: Set<AbortController>; last: Promise<unknown> }>();

  constructor(private readonly options: DeskOptions) {
    this.store = new DemoStore(options.now);
    const saved = options.saved;
    if (saved) {
      this.switchOn = saved.switchOn;
      for (const conv of saved.conversations) this.store.conversations.set(conv.id, conv);
      this.store.ratings.push(...saved.ratings);
      this.store.contacts.push(...saved.contacts);
      this.store.feedback.push(...(saved.feedback ?? []));
      for (const [id, messages] of saved.replies) this.replies.set(id, messages);
    }
  }

  /** The state to save; `options.saved` of the next run. */
  snapshot(): DeskState {
    return {
      switchOn: this.switchOn,
      conversations: [...this.store.conversations.values()],
      ratings: this.store.ratings,
      contacts: this.store.contacts,
      feedback: this.store.feedback,
      replies: [...this.replies].slice(-MAX_SAVED_REPLIES),
    };
  }

  /** Agents are available: the demo switch is on and we are inside opening hours. */
  get available(): boolean {
    return this.switchOn && isOpen(this.options.openHours, new Date(this.options.now()));
  }

  /** Resolves when every background REST call started so far (and those they started) is done. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** The agent who answers in the console. */
  get agent(): Sender & { role: 'agent' } {
    return this.options.agent;
  }

  /** Run a REST call after the webhook was answered; failures are logged by code. */
  background(what: string, task: () => Promise<unknown>): void {
    const p = task()
      .catch((err: unknown) => this.options.log(`${what} failed: ${err instanceof RelayError ? `${err.code} (${err.status})` : String(err)}`))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  // ---- webhooks ----

  /**
   * Handle one verified webhook event and return the inline reply. A retried delivery
   * (same `webhook-id`) gets the same reply and causes nothing twice.
   */
  handle(event: WebhookEvent): OutgoingMessage[] {
    // The visitor's typing and read marks: ephemeral, never answered, never remembered.
    if (event.type === 'visitor.typing' || event.type === 'visitor.read') {
      const conv = this.store.conversations.get(event.conversationId);
      if (!conv) return [];
      if (event.type === 'visitor.typing') conv.visitorTyping = event.data.on;
      else raiseRead(conv, event.data.seq);
      this.store.changed();
      return [];
    }
    const seen = this.replies.get(event.id);
    if (seen) return seen;
    const messages = this.dispatch(event);
    this.replies.set(event.id, messages);
    if (this.replies.size > MAX_REPLIES) this.replies.delete(this.replies.keys().next().value!);
    const conv = this.store.conversations.get(event.conversationId);
    if (conv) {
      // The relay names inline replies `<webhook-id>-<index>`; the transcript uses the same ids.
      messages.forEach((m, i) => this.store.record(conv, { kind: 'msg', id: `${event.id}-${i}`, ts: this.options.now(), from: m.from ?? { role: 'bot' }, body: m.body }));
    }
    this.store.changed();
    return messages;
  }

  private dispatch(event: WebhookEvent): OutgoingMessage[] {
    const conv = this.store.upsert(event.conversationId, event.visitor.id);
    if (event.visitor.identity) conv.identity = event.visitor.identity;
    if (event.visitor.readSeq !== undefined) raiseRead(conv, event.visitor.readSeq);
    switch (event.type) {
      case 'conversation.started':
      case 'context.updated':
        this.store.setContext(conv, event.data.context);
        return [];
      case 'visitor.identified':
        // Signed in mid-chat: this conversation is now the user's; their older one stays open.
        if (event.data.linkedConversationId) conv.linkedConversationId = event.data.linkedConversationId;
        return [];
      case 'visitor.typing':
      case 'visitor.read':
      // Answered by the upload store (uploads.ts) before the desk sees it.
      case 'upload.requested':
        return [];
      case 'message.feedback': {
        const answer = conv.transcript.find((e) => e.id === event.data.messageId);
        this.store.addFeedback({
          conversationId: conv.id,
          messageId: event.data.messageId,
          value: event.data.value,
          comment: event.data.comment,
          ts: event.createdAt,
          answer: answer?.kind === 'msg' && 'text' in answer.body ? answer.body.text.slice(0, 200) : undefined,
        });
        return [];
      }
      default:
        break;
    }
    const message = event.data.message;
    conv.visitorTyping = false;
    this.store.record(conv, { kind: 'msg', ...message });
    const body = message.body;
    switch (body.type) {
      case 'rating':
        this.store.ratings.unshift({ conversationId: conv.id, score: body.score, comment: body.comment, ts: message.ts, agent: conv.agent?.name });
        return [];
      case 'contact':
        this.store.contacts.unshift({
          conversationId: conv.id,
          email: body.email,
          text: body.text,
          ts: message.ts,
          userId: conv.identity?.userId,
          verified: conv.identity?.verified,
        });
        return [contactThanks(body.email, detectLocale(body.text, conv.context.page?.locale))];
      case 'postback': {
        conv.locale = buttonLocale(body.label, conv.locale, conv.context.page?.locale);
        if (event.type === 'handoff.requested') return this.requestHandoff(conv);
        if (conv.status !== 'bot') return [];
        const answer = answerPostback(body.value, conv.locale);
        return answer.handoff ? this.requestHandoff(conv) : answer.messages;
      }
      case 'text': {
        conv.locale = detectLocale(body.text, conv.context.page?.locale);
        if (this.options.ai && !HANDOFF_WORDS.test(body.text)) {
          // The AI writes the answer after the webhook is answered; the visitor sees it grow.
          if (conv.status === 'bot') this.answerWithAi(conv, message.id, body.text, this.options.ai);
          return [];
        }
        const answer = answerText(body.text, conv.locale, this.options.shopUrl);
        if (answer.handoff) return this.requestHandoff(conv);
        // Once a human is asked for or has joined, the bot stays quiet.
        return conv.status === 'bot' ? answer.messages : [];
      }
      default:
        return [];
    }
  }

  /**
   * Stream the AI's answer to `question`. Answers in one conversation go one after another. A
   * failure (the model broke off, the relay refused) leaves the text so far in the log marked
   * incomplete, and the visitor is offered a human; a handoff or an agent stops the answer.
   */
  private answerWithAi(conv: ConversationRecord, questionId: string, question: string, ai: AiOptions): void {
    const answer = answerQuestion(question, conv.locale, this.options.shopUrl);
    const locale = conv.locale;
    const controller = new AbortController();
    let queue = this.answering.get(conv.id);
    if (!queue) this.answering.set(conv.id, (queue = { controllers: new Set(), last: Promise.resolve() }));
    const before = queue.last;
    queue.controllers.add(controller);
    // Derived from the question: should the same question come again (a redelivery after a
    // restart), the relay answers with the answer already logged instead of a second one.
    const id = `ai_${createHash('sha256').update(`${conv.id}\n${questionId}`).digest('base64url').slice(0, 24)}`;
    const write = ai.write ?? ((text: string, signal: AbortSignal) => paceWords(text, ai.wordMs, signal));
    const run = async () => {
      await before.catch(() => undefined);
      if (controller.signal.aborted || conv.status !== 'bot') return;
      try {
        const result = await this.about(conv, () =>
          this.options.relay.streamMessage(conv.id, write(answer.text, controller.signal), {
            id,
            from: aiBotOf(locale),
            sources: answer.sources,
            quickReplies: answer.quickReplies,
            signal: controller.signal,
          }),
        );
        if (result.message) this.store.record(conv, fromLog({ kind: 'msg', ...result.message }));
      } catch (err) {
        await this.recordFromLog(conv, id);
        if (!controller.signal.aborted && conv.status === 'bot' && this.store.conversations.get(conv.id) === conv) {
          const { message } = await this.options.relay.sendMessage(conv.id, {
            id: `${id}-broke-off`,
            from: aiBotOf(locale),
            body: { type: 'quick_replies', text: AI_BROKE_OFF[locale], replies: aiMenuHumanFirst(locale) },
          });
          this.store.record(conv, fromLog({ kind: 'msg', ...message }));
        }
        throw err;
      } finally {
        queue.controllers.delete(controller);
        if (!queue.controllers.size && this.answering.get(conv.id) === queue) this.answering.delete(conv.id);
        this.store.changed();
      }
    };
    const done = run();
    queue.last = done;
    this.background('ai answer', () => done);
  }

  /** Stop the AI answers being written in a conversation (or in all): what they wrote stays, marked incomplete. */
  stopAi(conversationId: string | null, reason: string): void {
    for (const [id, { controllers }] of this.answering) {
      if (conversationId === null || id === conversationId) for (const controller of controllers) controller.abort(new Error(reason));
    }
  }

  /** Copy a message from the relay's log into the transcript (an answer that ended without a result). */
  private async recordFromLog(conv: ConversationRecord, messageId: string): Promise<void> {
    const after = Math.max(0, ...conv.transcript.map((e) => e.seq ?? 0));
    const page = await this.options.relay.history(conv.id, { after, limit: 200 }).catch(() => null);
    const entry = page?.entries.find((e) => e.id === messageId);
    if (entry) this.store.record(conv, fromLog(entry));
  }

  private requestHandoff(conv: ConversationRecord): OutgoingMessage[] {
    const text = HANDOFF_TEXT[conv.locale];
    // A person will answer: the AI stops writing.
    this.stopAi(conv.id, 'The visitor asked for a human.');
    if (conv.status === 'agent') return [];
    if (conv.status === 'waiting') return [botText(text.queued(this.store.positionOf(conv) ?? 1), conv.locale)];
    if (!this.available) return [botText(text.offline, conv.locale)];
    conv.status = 'waiting';
    conv.waitingSince = this.options.now();
    const position = this.store.positionOf(conv) ?? 1;
    this.background('handoff', async () => {
      await this.sendEvent(conv, { type: 'handoff', state: 'requested' });
      await this.announceQueue();
    });
    return [botText(text.queued(position), conv.locale)];
  }

  /** Tell every waiting visitor whose place changed their new place in the queue. */
  private announceQueue(): Promise<void> {
    const run = async () => {
      for (const conv of this.store.waiting()) {
        const position = this.store.positionOf(conv)!;
        if (conv.announcedPosition === position) continue;
        conv.announcedPosition = position;
        await this.sendEvent(conv, { type: 'queue', position, etaSec: position * 90 });
      }
    };
    // One announcement at a time, so positions reach each visitor in order.
    const next = this.queueChain.then(run);
    this.queueChain = next.catch(() => undefined);
    return next;
  }

  private async sendEvent(conv: ConversationRecord, event: ConversationEvent): Promise<void> {
    const id = newId('ev_');
    const result = await this.about(conv, () => this.options.relay.sendEvent(conv.id, event, { id }));
    if (result.seq !== undefined) this.store.record(conv, { kind: 'event', id, seq: result.seq, ts: this.options.now(), event });
  }

  // ---- the agent console ----

  /** The agent takes the conversation: the visitor sees the agent join; the bot goes quiet. */
  async take(conv: ConversationRecord): Promise<void> {
    if (conv.status === 'agent') return;
    const before = { status: conv.status, waitingSince: conv.waitingSince, announcedPosition: conv.announcedPosition };
    // Quiet the bot before the first await, so a message arriving meanwhile is not answered.
    conv.status = 'agent';
    this.stopAi(conv.id, 'An agent took over.');
    conv.agent = this.options.agent;
    conv.waitingSince = undefined;
    conv.announcedPosition = undefined;
    try {
      await this.sendEvent(conv, { type: 'agent_joined', agent: this.options.agent });
      await this.sendEvent(conv, { type: 'handoff', state: 'accepted' });
    } catch (err) {
      Object.assign(conv, before, { agent: undefined });
      throw err;
    } finally {
      this.store.changed();
    }
    if (before.status === 'waiting') this.background('queue', () => this.announceQueue());
  }

  /** Send the agent's reply (taking the conversation first if needed). */
  async reply(conv: ConversationRecord, text: string, id: string = newId('msg_')): Promise<TranscriptEntry> {
    await this.take(conv);
    const { message } = await this.about(conv, () => this.options.relay.sendMessage(conv.id, { id, from: this.options.agent, body: { type: 'text', text } }));
    const entry: TranscriptEntry = { kind: 'msg', ...message };
    this.store.record(conv, entry);
    this.store.changed();
    return entry;
  }

  /** Send a file the agent attached (kept by the demo's upload store), as the agent. */
  async sendFile(conv: ConversationRecord, body: Extract<OutgoingMessage['body'], { type: 'file' }>, id: string = newId('msg_')): Promise<TranscriptEntry> {
    await this.take(conv);
    const { message } = await this.about(conv, () => this.options.relay.sendMessage(conv.id, { id, from: this.options.agent, body }));
    const entry: TranscriptEntry = { kind: 'msg', ...message };
    this.store.record(conv, entry);
    this.store.changed();
    return entry;
  }

  /** Show or hide "Mia is typing" in the visitor's widget. */
  async typing(conv: ConversationRecord, on: boolean): Promise<void> {
    await this.about(conv, () => this.options.relay.sendEvent(conv.id, { type: 'typing', on, from: this.options.agent }));
  }

  /** The agent has seen the conversation up to `seq`: the visitor's widget shows "Read" on their messages up to it. */
  async markRead(conv: ConversationRecord, seq: number): Promise<void> {
    if (seq <= (conv.agentReadSeq ?? 0)) return;
    const before = conv.agentReadSeq;
    conv.agentReadSeq = seq;
    try {
      await this.about(conv, () => this.options.relay.sendEvent(conv.id, { type: 'read', seq, from: this.options.agent }));
    } catch (err) {
      if (conv.agentReadSeq === seq) conv.agentReadSeq = before;
      throw err;
    }
  }

  /** Ask the visitor for a rating and close the conversation. */
  async closeAndRate(conv: ConversationRecord): Promise<void> {
    if (conv.status === 'closed') return;
    this.stopAi(conv.id, 'The conversation was closed.');
    const wasWaiting = conv.status === 'waiting';
    await this.sendEvent(conv, { type: 'rating_request', text: RATING_TEXT[conv.locale] });
    await this.sendEvent(conv, { type: 'closed', reason: `Closed by ${this.options.agent.name ?? 'an agent'}` });
    conv.status = 'closed';
    conv.waitingSince = undefined;
    this.store.changed();
    if (wasWaiting) this.background('queue', () => this.announceQueue());
  }

  /**
   * The transcript: what this backend saw, completed with the relay's log (the source of truth).
   * Throws `NOT_FOUND` (and forgets the conversation) when the relay no longer has it.
   */
  async transcript(conv: ConversationRecord): Promise<{ entries: TranscriptEntry[]; historyError?: string }> {
    const merged = new Map(conv.transcript.map((e) => [e.id, e] as const));
    let historyError: string | undefined;
    try {
      let after = 0;
      for (let page = 0; page < 50; page++) {
        const { entries, hasMore } = await this.about(conv, () => this.options.relay.history(conv.id, { after, limit: 200 }));
        for (const entry of entries) merged.set(entry.id, fromLog(entry));
        if (!hasMore || !entries.length) break;
        after = entries[entries.length - 1]!.seq;
      }
    } catch (err) {
      if (isGone(err)) throw err;
      historyError = err instanceof RelayError ? err.code : 'RELAY_UNREACHABLE';
    }
    const entries = [...merged.values()].sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity) || a.ts - b.ts);
    return historyError ? { entries, historyError } : { entries };
  }

  /**
   * Pick up conversations this process has not seen (while it was down) from the relay, and
   * drop those the relay no longer has. The list is capped and may be older than a webhook
   * that arrived meanwhile, so a conversation it leaves out is only dropped when a call about
   * that conversation answers `NOT_FOUND`.
   */
  async backfill(): Promise<void> {
    const items = await this.options.relay.conversations();
    const listed = new Set(items.map((item) => item.id));
    for (const conv of [...this.store.conversations.values()]) {
      if (listed.has(conv.id)) continue;
      await this.about(conv, () => this.options.relay.history(conv.id, { limit: 1 })).catch((err: unknown) => {
        if (!isGone(err)) throw err;
      });
    }
    let added = false;
    for (const item of items) {
      if (item.closed || item.lastSeq === 0 || this.store.conversations.has(item.id)) continue;
      const conv = this.store.upsert(item.id, item.visitorId);
      conv.createdAt = item.createdAt;
      this.store.setContext(conv, item.context);
      if (item.identity) conv.identity = item.identity;
      added = true;
    }
    if (added) this.store.changed();
  }

  /**
   * Run a REST call about one conversation. `NOT_FOUND` means the relay no longer has it (a
   * memory engine restarted, retention, a wiped store): the desk forgets it too, instead of
   * keeping a conversation every action on which fails. The error is passed on.
   */
  private async about<T>(conv: ConversationRecord, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (isGone(err) && this.store.conversations.get(conv.id) === conv) {
        const wasWaiting = conv.status === 'waiting';
        this.store.forget(conv.id);
        this.options.log(`conversation ${conv.id} is gone from the relay: removed`);
        if (wasWaiting) this.background('queue', () => this.announceQueue());
      }
      throw err;
    }
  }

  // ---- availability ----

  /** Tell the relay whether agents are available, when that changed (or always with `force`). */
  async syncAvailability(force = false): Promise<void> {
    const next = this.available;
    if (!force && next === this.online) return;
    await this.options.relay.setAvailability(next);
    this.online = next;
    this.store.changed();
  }

  async setSwitch(on: boolean): Promise<void> {
    this.switchOn = on;
    this.store.changed();
    await this.syncAvailability();
  }
}

/** The visitor's read mark only grows. */
function raiseRead(conv: ConversationRecord, seq: number): void {
  if (seq > (conv.readSeq ?? 0)) conv.readSeq = seq;
}

/** The relay answered `NOT_FOUND` about a conversation: it no longer has it. */
export function isGone(err: unknown): err is RelayError {
  return err instanceof RelayError && err.code === 'NOT_FOUND';
}

function botText(text: string, locale: Locale): OutgoingMessage {
  return { from: botOf(locale), body: { type: 'text', text } };
}

/** After a failed AI answer: the way to a human first. */
function aiMenuHumanFirst(locale: keyof typeof AI_BROKE_OFF) {
  const replies = menu(locale);
  return [...replies.filter((r) => r.value === HANDOFF_VALUE), ...replies.filter((r) => r.value !== HANDOFF_VALUE)];
}

function fromLog(entry: LogEntry): TranscriptEntry {
  if (entry.kind === 'event') return { kind: 'event', id: entry.id, seq: entry.seq, ts: entry.ts, event: entry.event };
  const msg: TranscriptEntry = { kind: 'msg', id: entry.id, seq: entry.seq, ts: entry.ts, from: entry.from, body: entry.body };
  return entry.incomplete ? { ...msg, incomplete: true } : msg;
}
