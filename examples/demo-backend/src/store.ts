import type { ConversationEvent, MessageBody, Sender, VisitorContext, VisitorIdentity } from '@parley/backend';
import { detectLocale, type Locale } from './locale.js';

// The demo's state, in memory; given a data folder, the demo backend saves it to a file
// (desk-file.ts) and loads it at start. A merchant keeps the same records in their database
// (and keys webhook de-duplication on `webhook-id` there).

/** `bot`: the bot answers. `waiting`: queued for a human. `agent`: an agent has it. */
type ConversationStatus = 'bot' | 'waiting' | 'agent' | 'closed';

/** One line of a transcript: a message, or a stored event. `seq` is unknown until the relay says. */
export type TranscriptEntry =
  | { kind: 'msg'; id: string; seq?: number; ts: number; from: Sender; body: MessageBody; incomplete?: boolean }
  | { kind: 'event'; id: string; seq?: number; ts: number; event: ConversationEvent };

export interface ConversationRecord {
  id: string;
  visitorId: string;
  createdAt: number;
  updatedAt: number;
  status: ConversationStatus;
  /** When the visitor joined the human queue. */
  waitingSince?: number;
  /** The queue position last sent to the visitor. */
  announcedPosition?: number;
  agent?: Sender;
  context: VisitorContext;
  identity?: VisitorIdentity;
  locale: Locale;
  /** The latest text, for the conversation list. */
  preview?: string;
  transcript: TranscriptEntry[];
  /** The visitor is typing, as the relay last said (`visitor.typing`; a message of theirs ends it). */
  visitorTyping?: boolean;
  /** The visitor has read the conversation up to this seq: the console marks the answers before it "seen". */
  readSeq?: number;
  /** The agent has read it up to this seq: the visitor's widget shows "Read" on their messages before it. */
  agentReadSeq?: number;
  /** The signed-in user's other open conversation, named when they signed in mid-chat. */
  linkedConversationId?: string;
}

export interface RatingRecord {
  conversationId: string;
  score: number;
  comment?: string;
  ts: number;
  agent?: string;
}

export interface ContactRecord {
  conversationId: string;
  email: string;
  text: string;
  ts: number;
  userId?: string;
  verified?: boolean;
}

/** A visitor's thumbs up or down on an AI answer; a later one on the same answer replaces it. */
export interface FeedbackRecord {
  conversationId: string;
  messageId: string;
  value: 'up' | 'down';
  comment?: string;
  ts: number;
  /** The start of the answer rated, when this backend saw it. */
  answer?: string;
}

/** What the console hears about: the whole state changed, or one transcript line arrived. */
export type StoreEvent = { type: 'state' } | { type: 'entry'; conversationId: string; entry: TranscriptEntry };

export class DemoStore {
  readonly conversations = new Map<string, ConversationRecord>();
  readonly ratings: RatingRecord[] = [];
  readonly contacts: ContactRecord[] = [];
  /** Feedback on AI answers, newest first. */
  readonly feedback: FeedbackRecord[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  constructor(private readonly now: () => number) {}

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const l of this.listeners) l({ type: 'state' });
  }

  /** The conversation, created on first sight. */
  upsert(id: string, visitorId: string): ConversationRecord {
    let conv = this.conversations.get(id);
    if (!conv) {
      const ts = this.now();
      conv = { id, visitorId, createdAt: ts, updatedAt: ts, status: 'bot', context: {}, locale: 'en', transcript: [] };
      this.conversations.set(id, conv);
    }
    return conv;
  }

  setContext(conv: ConversationRecord, context: VisitorContext): void {
    conv.context = context;
    const pageLocale = context.page?.locale;
    if (pageLocale) conv.locale = detectLocale('', pageLocale);
  }

  /** Drop a conversation (the relay no longer has it). Its ratings and left messages stay. */
  forget(id: string): boolean {
    if (!this.conversations.delete(id)) return false;
    this.changed();
    return true;
  }

  /** Add a transcript line once (by id); a later copy with a `seq` fills it in. */
  record(conv: ConversationRecord, entry: TranscriptEntry): void {
    const existing = conv.transcript.findIndex((e) => e.id === entry.id);
    if (existing >= 0) {
      if (entry.seq !== undefined) conv.transcript[existing] = entry;
      return;
    }
    conv.transcript.push(entry);
    conv.updatedAt = this.now();
    if (entry.kind === 'msg') conv.preview = previewOf(entry.body);
    for (const l of this.listeners) l({ type: 'entry', conversationId: conv.id, entry });
  }

  /** Record feedback on an answer; the visitor's latest choice on it wins. */
  addFeedback(record: FeedbackRecord): void {
    const i = this.feedback.findIndex((f) => f.conversationId === record.conversationId && f.messageId === record.messageId);
    if (i >= 0) this.feedback.splice(i, 1);
    this.feedback.unshift(record);
  }

  /** Conversations waiting for a human, longest wait first. */
  waiting(): ConversationRecord[] {
    return [...this.conversations.values()]
      .filter((c) => c.status === 'waiting')
      .sort((a, b) => (a.waitingSince ?? 0) - (b.waitingSince ?? 0));
  }

  /** 1-based place in the human queue, or undefined when not waiting. */
  positionOf(conv: ConversationRecord): number | undefined {
    const i = this.waiting().indexOf(conv);
    return i >= 0 ? i + 1 : undefined;
  }
}

function previewOf(body: MessageBody): string {
  switch (body.type) {
    case 'text':
    case 'quick_replies':
      return body.text;
    case 'card':
      return `[${body.kind}] ${body.title}`;
    case 'postback':
      return `[button] ${body.label}`;
    case 'rating':
      return `[rating] ${'★'.repeat(body.score)}`;
    case 'contact':
      return `[message left] ${body.text}`;
    case 'file':
      return `[file] ${body.name}`;
  }
}
