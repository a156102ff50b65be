import { hash } from 'node:crypto';
import { LIMITS, type LogEntry, type Message, type MessageBody, type Sender, type VisitorContext, type WebhookEvent, type WebhookEventType } from '@parley/protocol';
import type { AppendRequest, Conversation, MergeResult, NewEntry, StreamEndRequest, WebhookJob } from './types.js';

/**
 * A deep copy of plain data (what JSON or a decoded frame holds): arrays and plain objects are
 * copied, primitives kept. Anything else (a Date, a Map, a class instance) goes through
 * `structuredClone`. Much cheaper than `structuredClone` for the small records the engines keep.
 */
export function cloneData<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneData(value[i]);
    return out as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = cloneData((value as Record<string, unknown>)[key]);
    if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out as T;
}

/** Freeze plain data and everything it holds, so it can be shared instead of copied. */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}

/**
 * The id of the webhook job an entry causes: derived from the conversation, the entry id and the
 * event type, so a redone append re-ensures the same job and a backend deduplicating on
 * `webhook-id` sees one id per event. SHA-1 in hex (96 bits of it), which the Redis engine's
 * append script derives itself (`redis.sha1hex`), so the relay does not hash each message.
 */
export function webhookJobId(conversationId: string, entryId: string, type: WebhookEventType): string {
  return 'evt_' + hash('sha1', `${conversationId}\n${entryId}\n${type}`, 'hex').slice(0, 24);
}

/** The id of the `visitor.identified` job of a conversation adopted by the owner `ownerKey`. */
export function identifiedJobId(conversationId: string, ownerKey: string): string {
  return webhookJobId(conversationId, `identified:${ownerKey}`, 'visitor.identified');
}

/** A log entry without its `kind`, as webhooks and REST answers carry it. */
export function toMessage(entry: Extract<LogEntry, { kind: 'msg' }>): Message {
  const message = { seq: entry.seq, id: entry.id, ts: entry.ts, from: entry.from, body: entry.body } as Message;
  if (entry.incomplete) message.incomplete = true;
  return message;
}

/** A webhook job for an event about `conversation`, due now. */
export function makeJob(conversation: Conversation, id: string, type: WebhookEventType, data: unknown, now: number): WebhookJob {
  const visitor: WebhookEvent['visitor'] = { id: conversation.visitorId };
  if (conversation.identity) visitor.identity = { ...conversation.identity };
  visitor.readSeq = conversation.readSeq;
  const event = { id, type, createdAt: now, siteKey: conversation.siteKey, conversationId: conversation.id, visitor, data } as WebhookEvent;
  return { id, siteKey: conversation.siteKey, conversationId: conversation.id, event, attempts: 0, enqueuedAt: now, dueAt: now };
}

/**
 * The jobs an append enqueues, in order: `conversation.started` first when asked for and the
 * conversation has not started, then the entry's own event. `conversation` is the record before
 * the append.
 */
export function appendJobs(conversation: Conversation, request: AppendRequest, entry: LogEntry, now: number): WebhookJob[] {
  if (!request.webhook || entry.kind !== 'msg') return [];
  const jobs: WebhookJob[] = [];
  if (request.start && !conversation.started) {
    const id = webhookJobId(conversation.id, entry.id, 'conversation.started');
    jobs.push(makeJob(conversation, id, 'conversation.started', { context: conversation.context }, now));
  }
  const id = webhookJobId(conversation.id, entry.id, request.webhook);
  jobs.push(makeJob(conversation, id, request.webhook, { message: toMessage(entry) }, now));
  return jobs;
}

/** Whether an append marks the conversation started. */
export function startsConversation(conversation: Conversation, request: AppendRequest): boolean {
  return !!request.webhook && !!request.start && !conversation.started && request.entry.kind === 'msg';
}

/** Whether a stored entry closes its conversation. */
export function closesConversation(entry: { kind: string; event?: { type: string } }): boolean {
  return entry.kind === 'event' && entry.event?.type === 'closed';
}

/**
 * Merge a context patch: `page` and `product` replace, `attrs` merge key by key. When the merged
 * attributes pass `LIMITS.maxAttrs` keys, or the context passes `maxBytes` of JSON, the oldest
 * stored attributes the patch does not name go first; refused (`TOO_LARGE`) only when the patch
 * itself does not fit.
 */
export function mergeContextValue(current: VisitorContext, patch: VisitorContext, maxBytes: number): { ok: true; context: VisitorContext } | Extract<MergeResult, { ok: false }> {
  const context: VisitorContext = { ...current };
  if (patch.page) context.page = patch.page;
  if (patch.product) context.product = patch.product;
  if (patch.attrs) {
    const attrs = { ...current.attrs };
    for (const [key, value] of Object.entries(patch.attrs)) {
      // Re-inserted, so the key counts as the newest.
      delete attrs[key];
      attrs[key] = value;
    }
    context.attrs = attrs;
    const evictable = Object.keys(attrs).filter((key) => !(key in patch.attrs!));
    while (evictable.length && (Object.keys(attrs).length > LIMITS.maxAttrs || Buffer.byteLength(JSON.stringify(context)) > maxBytes)) {
      delete attrs[evictable.shift()!];
    }
  }
  if (context.attrs && Object.keys(context.attrs).length > LIMITS.maxAttrs) {
    return { ok: false, code: 'TOO_LARGE', message: `The visitor context holds at most ${LIMITS.maxAttrs} attributes.` };
  }
  if (Buffer.byteLength(JSON.stringify(context)) > maxBytes) {
    return { ok: false, code: 'TOO_LARGE', message: `The visitor context is limited to ${maxBytes} bytes of JSON.` };
  }
  return { ok: true, context };
}

/**
 * A position in a site's conversation list: the `createdAt` of the last conversation a page
 * returned and the engine's tie-breaking key for it (its id, or its sorted-set member in Redis).
 */
export interface ListPosition {
  createdAt: number;
  key: string;
}

/** Cursors are short; anything longer is not one of ours. */
const MAX_CURSOR_LENGTH = 400;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The opaque cursor of a position: base64url of `[createdAt, key]` as JSON. */
export function encodeListCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.key])).toString('base64url');
}

/** The position a cursor names, or null when it is not a cursor `encodeListCursor` could have made. */
export function decodeListCursor(cursor: string): ListPosition | null {
  if (cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [createdAt, key] = value as unknown[];
  if (!Number.isSafeInteger(createdAt) || typeof key !== 'string' || key.length === 0) return null;
  const position = { createdAt: createdAt as number, key };
  // One spelling per position, so a cursor with stray bits is refused rather than half read.
  return encodeListCursor(position) === cursor ? position : null;
}

/** The position of `cursor` for an engine: undefined for the newest page; a TypeError for a cursor that is not one. */
export function listPositionOf(cursor: string | undefined): ListPosition | undefined {
  if (cursor === undefined) return undefined;
  const position = decodeListCursor(cursor);
  if (!position) throw new TypeError('listConversations: the cursor is not one a page returned.');
  return position;
}

/** A page size an engine serves: a whole number, at least 1. */
export function pageLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.max(1, Math.floor(limit)) : 1;
}

// ---- streamed answers ----

/** The text of an aborted or stalled answer that got no text at all (a message text is never empty). */
export const NOTHING_ARRIVED = '\u2026';

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/**
 * What a delta adds to an answer holding `held` code units: null for a gap (`offset` past the held
 * length), else the part of `text` beyond the held length (empty when it holds all of it). A cut
 * that would split a surrogate pair skips the whole pair (the Redis script cuts UTF-8 the same way).
 */
export function deltaPart(held: number, offset: number, text: string): string | null {
  if (offset > held) return null;
  let skip = held - offset;
  if (skip >= text.length) return '';
  if (skip > 0 && isHigh(text.charCodeAt(skip - 1)) && isLow(text.charCodeAt(skip))) skip++;
  return text.slice(skip);
}

/** True when a string has no lone surrogate, so it survives UTF-8 (SQLite, Redis) unchanged. */
export function isWellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isHigh(code)) {
      if (!isLow(text.charCodeAt(i + 1))) return false;
      i++;
    } else if (isLow(code)) {
      return false;
    }
  }
  return true;
}

/** The most an answer may hold: a message's text limit. */
export const MAX_STREAM_LENGTH = LIMITS.maxTextLength;

/**
 * The log entry that ends a stream holding `held`: the final text (the request's, else the held
 * one) as a text or quick-replies body, or, for an abort, the held text marked incomplete. Null
 * when a finish has no text at all.
 */
export function streamEntry(request: StreamEndRequest, from: Sender, held: string): NewEntry | null {
  if (request.abort) {
    const body: MessageBody = { type: 'text', text: held || NOTHING_ARRIVED };
    return { kind: 'msg', id: request.id, from, body, incomplete: true };
  }
  const text = request.text ?? held;
  if (!text) return null;
  const sources = request.sources?.length ? { sources: request.sources } : {};
  const body: MessageBody = request.quickReplies?.length ? { type: 'quick_replies', text, replies: request.quickReplies, ...sources } : { type: 'text', text, ...sources };
  return { kind: 'msg', id: request.id, from, body };
}
