import { encode, type LogEntry, type ServerFrame } from '@parley/protocol';
import type { FanoutItem } from './engine/types.js';

/** What the hub needs from a socket connection. */
export interface HubMember {
  readonly conversationId: string;
  readonly siteKey: string;
  /** A stored entry, encoded once for every member. */
  deliverEntry(entry: LogEntry, text: string): void;
  /** A transient frame. */
  deliverTransient(text: string): void;
}

/** The frame a log entry is pushed and replayed as. */
export function entryFrame(entry: LogEntry): ServerFrame {
  if (entry.kind === 'msg') return { t: 'msg', seq: entry.seq, id: entry.id, ts: entry.ts, from: entry.from, body: entry.body };
  return { t: 'event', seq: entry.seq, id: entry.id, ts: entry.ts, event: entry.event };
}

/** This instance's sockets by conversation and site; turns fan-out items into frames. */
export class Hub {
  private readonly byConversation = new Map<string, Set<HubMember>>();
  private readonly bySite = new Map<string, Set<HubMember>>();

  add(member: HubMember): void {
    add(this.byConversation, member.conversationId, member);
    add(this.bySite, member.siteKey, member);
  }

  remove(member: HubMember): void {
    remove(this.byConversation, member.conversationId, member);
    remove(this.bySite, member.siteKey, member);
  }

  /** Sockets of one conversation on this instance. */
  count(conversationId: string): number {
    return this.byConversation.get(conversationId)?.size ?? 0;
  }

  /** Deliver one fan-out item to the local sockets it concerns. */
  dispatch = (item: FanoutItem): void => {
    if (item.kind === 'entry') {
      const members = this.byConversation.get(item.conversationId);
      if (!members) return;
      const text = encode(entryFrame(item.entry));
      for (const m of members) m.deliverEntry(item.entry, text);
      return;
    }
    const members = item.kind === 'site' ? this.bySite.get(item.siteKey) : this.byConversation.get(item.conversationId);
    if (!members) return;
    const text = encode({ t: 'event', ts: item.ts, event: item.event });
    for (const m of members) m.deliverTransient(text);
  };
}

function add(map: Map<string, Set<HubMember>>, key: string, member: HubMember): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(member);
}

function remove(map: Map<string, Set<HubMember>>, key: string, member: HubMember): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(member);
  if (set.size === 0) map.delete(key);
}
