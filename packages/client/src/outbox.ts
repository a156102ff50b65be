import { newId, type VisitorBody } from '@parley/protocol';
import type { ChatMessage, MessageStatus } from './types.js';

/** Sends (one per connection) before an unacked message is marked failed. */
export const MAX_TRIES = 5;

/**
 * The visitor's unacked messages, in send order. Items are replaced, never mutated, so a
 * UI can compare them by identity. `onChange` gets the new list after every change, and
 * the ids this outbox saw acked.
 */
export function createOutbox(initial: ChatMessage[], onChange: (items: ChatMessage[], acked: Set<string>) => void) {
  let items = initial;
  const tries = new Map<string, number>();
  const acked = new Set<string>();
  const put = (next: ChatMessage[]) => onChange((items = next), acked);
  const setStatus = (id: string, status: MessageStatus, from?: MessageStatus): ChatMessage | undefined => {
    const old = items.find((m) => m.id === id);
    if (!old || old.status === status || (from && old.status !== from)) return undefined;
    const next = { ...old, status };
    put(items.map((m) => (m === old ? next : m)));
    return next;
  };
  return {
    items: () => items,
    /** A new message with a fresh id, "sending" (or "failed" when `invalid`). */
    add(body: VisitorBody, ts: number, invalid?: boolean): ChatMessage {
      const m: ChatMessage = { kind: 'msg', id: newId(), ts, from: { role: 'visitor' }, body, status: invalid ? 'failed' : 'sending' };
      put([...items, m]);
      return m;
    },
    /** The relay stored the message: it leaves the outbox as "sent" with its sequence number. */
    ack(id: string, seq: number, ts: number): ChatMessage | undefined {
      const m = items.find((x) => x.id === id);
      if (!m) return undefined;
      tries.delete(id);
      acked.add(id);
      put(items.filter((x) => x !== m));
      return { ...m, seq, ts, status: 'sent' };
    },
    fail: (id: string) => setStatus(id, 'failed'),
    /** A failed message goes back to "sending" with a fresh try budget. */
    retry(id: string): ChatMessage | undefined {
      tries.delete(id);
      return setStatus(id, 'sending', 'failed');
    },
    /**
     * Messages to send on this connection. Each call counts a try; a message already sent
     * MAX_TRIES times without an ack is marked failed instead (the relay keeps refusing it).
     * With `only`, just that message.
     */
    due(only?: string): { send: ChatMessage[]; failed: ChatMessage[] } {
      const send: ChatMessage[] = [];
      const failed: ChatMessage[] = [];
      for (const m of items) {
        if (m.status !== 'sending' || (only && m.id !== only)) continue;
        const n = (tries.get(m.id) ?? 0) + 1;
        tries.set(m.id, n);
        if (n > MAX_TRIES) failed.push(setStatus(m.id, 'failed')!);
        else send.push(m);
      }
      return { send, failed };
    },
    /** Take in messages another tab queued (from storage) that this tab does not know. */
    adopt(stored: ChatMessage[], known: (id: string) => boolean): void {
      const fresh = stored.filter((m) => !known(m.id) && !items.some((x) => x.id === m.id));
      if (fresh.length) put([...items, ...fresh]);
    },
    clear: () => put([]),
  };
}

