import { encode, type LogEntry, type ServerFrame } from '@parley/protocol';
import { conversationTopic, siteTopic, type Engine, type FanoutItem } from './engine/types.js';

/** What the hub needs from a socket connection. */
export interface HubMember {
  readonly conversationId: string;
  readonly siteKey: string;
  /** A stored entry, encoded once for every member. */
  deliverEntry(entry: LogEntry, text: string): void;
  /** A transient frame. */
  deliverTransient(text: string): void;
  /** A draft frame of a streamed answer. */
  deliverDraft(text: string): void;
  /** Entries may have been missed: read the log. */
  resync(): void;
}

/** The frame a log entry is pushed and replayed as. */
export function entryFrame(entry: LogEntry): ServerFrame {
  if (entry.kind === 'msg') {
    const frame: ServerFrame = { t: 'msg', seq: entry.seq, id: entry.id, ts: entry.ts, from: entry.from, body: entry.body };
    if (entry.incomplete) frame.incomplete = true;
    return frame;
  }
  return { t: 'event', seq: entry.seq, id: entry.id, ts: entry.ts, event: entry.event };
}

/** The local members of a topic: most conversation topics have one (one open widget), kept as is; a second makes it a Set. */
type Members = HubMember | Set<HubMember>;

/** The local members of one fan-out topic and the engine subscription that feeds them. */
interface Topic {
  members: Members;
  /** Resolves once the engine subscription is live; a shared resolved promise from then on. */
  ready: Promise<void>;
  unsubscribe?: () => void;
}

const LIVE = Promise.resolve();

/**
 * This instance's sockets, by conversation and by site.
 *
 * On an engine that fans out across instances (Redis), the hub holds one engine subscription per
 * topic that has a member here, so fan-out costs only the conversations this instance serves. An
 * in-process engine (memory, SQLite) hands the hub every item with `subscribeAll`, and the hub
 * keeps only each topic's members: an open widget then costs no subscription of its own.
 */
export class Hub {
  private readonly topics = new Map<string, Topic>();
  /** With `subscribeAll`: each conversation's and each site's members here, looked up as items arrive. */
  private readonly local: { conversations: Map<string, Members>; sites: Map<string, Members> } | undefined;
  private readonly stopLocal: (() => void) | undefined;

  constructor(private readonly engine: Engine) {
    if (engine.subscribeAll) {
      const local = { conversations: new Map<string, Members>(), sites: new Map<string, Members>() };
      this.local = local;
      this.stopLocal = engine.subscribeAll((item) => {
        if (item.kind === 'backend' || item.kind === 'resync') return; // not a widget's; an in-process engine misses nothing
        const members = item.kind === 'site' ? local.sites.get(item.siteKey) : local.conversations.get(item.conversationId);
        if (members) dispatch(members, item);
      });
    }
  }

  /** Add a member to its conversation's and site's topics; resolves once both subscriptions are live. */
  async join(member: HubMember): Promise<void> {
    if (this.local) {
      addLocal(this.local.conversations, member.conversationId, member);
      addLocal(this.local.sites, member.siteKey, member);
      return;
    }
    const conversation = this.add(conversationTopic(member.conversationId), member);
    const site = this.add(siteTopic(member.siteKey), member);
    await conversation;
    await site;
  }

  /** Remove a member; a topic left empty is unsubscribed. */
  leave(member: HubMember): void {
    if (this.local) {
      removeLocal(this.local.conversations, member.conversationId, member);
      removeLocal(this.local.sites, member.siteKey, member);
      return;
    }
    this.remove(conversationTopic(member.conversationId), member);
    this.remove(siteTopic(member.siteKey), member);
  }

  /** Stop taking items (the relay is closing; the engine may outlive it). */
  close(): void {
    this.stopLocal?.();
    this.local?.conversations.clear();
    this.local?.sites.clear();
  }

  private add(name: string, member: HubMember): Promise<void> {
    const topic = this.topics.get(name);
    if (topic) {
      if (topic.members instanceof Set) topic.members.add(member);
      else if (topic.members !== member) topic.members = new Set([topic.members, member]);
      return topic.ready;
    }
    const created: Topic = { members: member, ready: LIVE };
    const subscribing = this.engine.subscribe(name, (item) => dispatch(created.members, item)).then((unsubscribe) => {
      // Everyone left while the subscription was being set up.
      if (this.topics.get(name) !== created) unsubscribe();
      else {
        created.unsubscribe = unsubscribe;
        created.ready = LIVE;
      }
    });
    subscribing.catch(() => {
      if (this.topics.get(name) === created) this.topics.delete(name);
    });
    created.ready = subscribing;
    this.topics.set(name, created);
    return subscribing;
  }

  private remove(name: string, member: HubMember): void {
    const topic = this.topics.get(name);
    if (!topic) return;
    if (topic.members instanceof Set) {
      if (!topic.members.delete(member) || topic.members.size > 0) return;
    } else if (topic.members !== member) return;
    // Items already on their way to this topic (a subscription being set up or torn down) go nowhere.
    topic.members = new Set();
    this.topics.delete(name);
    topic.unsubscribe?.();
  }
}

function addLocal(map: Map<string, Members>, name: string, member: HubMember): void {
  const members = map.get(name);
  if (members === undefined) map.set(name, member);
  else if (members instanceof Set) members.add(member);
  else if (members !== member) map.set(name, new Set([members, member]));
}

function removeLocal(map: Map<string, Members>, name: string, member: HubMember): void {
  const members = map.get(name);
  if (members === member) map.delete(name);
  else if (members instanceof Set && members.delete(member) && members.size === 0) map.delete(name);
}

/** Deliver one fan-out item to the local members of its topic. */
function dispatch(members: Members, item: FanoutItem): void {
  if (members instanceof Set && members.size === 0) return;
  if (item.kind === 'entry') {
    const text = encode(entryFrame(item.entry));
    if (members instanceof Set) for (const m of members) m.deliverEntry(item.entry, text);
    else members.deliverEntry(item.entry, text);
    return;
  }
  const each = (f: (m: HubMember) => void): void => {
    if (members instanceof Set) for (const m of members) f(m);
    else f(members);
  };
  if (item.kind === 'resync') {
    each((m) => m.resync());
    return;
  }
  if (item.kind === 'draft') {
    const text = encode({ t: 'draft', ...item.draft });
    each((m) => m.deliverDraft(text));
    return;
  }
  if (item.kind === 'backend') return; // for backend sockets (backend-socket.ts), never on a widget topic
  const text = encode({ t: 'event', ts: item.ts, event: item.event });
  each((m) => m.deliverTransient(text));
}

