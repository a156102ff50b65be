import {
  MAX_PAST,
  PAST_PAGE,
  PREVIEW_LENGTH,
  type ConversationsFrame,
  type ErrorFrame,
  type HistoryFrame,
  type HistoryPageFrame,
  type PastConversation,
} from '@parley/protocol';
import type { Engine, MessageEntry, OwnedConversation } from './engine/types.js';
import { errorFrame } from './errors.js';

/** Whose conversations a widget socket may read, and which one it serves. */
export interface PastScope {
  siteKey: string;
  /** `u:<userId>` for a verified user (their conversations on every device), else `v:<visitorId>`. */
  ownerKey: string;
  /** The conversation the socket serves: left out of the list (it is on screen). */
  current: string;
}

const NOT_YOURS = 'No past conversation of this visitor has this id.';

/**
 * A message as a line of a list: its text, a card's title, a file's name, a button's label or a
 * rating's stars, on one line, cut to `PREVIEW_LENGTH` characters (code points, as the schema
 * counts them). Undefined when nothing but blanks is left.
 */
export function previewOf(entry: MessageEntry): string | undefined {
  const b = entry.body;
  const words =
    b.type === 'card' ? b.title : b.type === 'file' ? b.name : b.type === 'postback' ? b.label : b.type === 'rating' ? '★'.repeat(b.score) : b.text;
  const chars = [...words.replace(/\s+/g, ' ').trim()];
  if (!chars.length) return undefined;
  return chars.length > PREVIEW_LENGTH ? chars.slice(0, PREVIEW_LENGTH - 1).join('') + '…' : chars.join('');
}

function toPast(c: OwnedConversation): PastConversation {
  const past: PastConversation = { id: c.id, createdAt: c.createdAt, closed: c.closed, lastSeq: c.lastSeq };
  const preview = c.last && previewOf(c.last);
  if (preview) past.preview = preview;
  return past;
}

/**
 * Answer a `history` frame: without `conversationId`, the owner's newest conversations but the
 * one on screen and those nothing was ever written to (at most `MAX_PAST`); with it, a page of
 * that conversation's log after `after` (at most `PAST_PAGE` entries), read-only. A conversation
 * is readable when it is among the owner's newest `MAX_PAST + 1` (what the list can offer, and
 * the one on screen); any other id, another visitor's or another site's, is `NOT_FOUND`, the
 * same answer as an id that never existed.
 */
export async function answerHistory(engine: Engine, scope: PastScope, frame: HistoryFrame): Promise<ConversationsFrame | HistoryPageFrame | ErrorFrame> {
  const owned = await engine.ownerConversations(scope.siteKey, scope.ownerKey, MAX_PAST + 1);
  const { conversationId } = frame;
  if (conversationId === undefined) {
    const items = owned.filter((c) => c.id !== scope.current && c.lastSeq > 0).slice(0, MAX_PAST);
    return { t: 'conversations', id: frame.id, items: items.map(toPast) };
  }
  if (!owned.some((c) => c.id === conversationId)) return errorFrame('NOT_FOUND', NOT_YOURS, frame.id);
  const page = await engine.read(conversationId, frame.after ?? 0, PAST_PAGE);
  return { t: 'history', id: frame.id, conversationId, entries: page.entries, hasMore: page.hasMore };
}
