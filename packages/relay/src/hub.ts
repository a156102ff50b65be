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

/**
 * The local members of one fan-out topic and the engine subscription that feeds them. Most
 * conversation topics have one member (one open widget), kept as is; a second makes it a Set.
 */
interface Topic {
  members: HubMember | Set<HubMember>;
  /** Resolves once the engine subscription is live; a shared resolved promise from then on. */
  ready: Promise<void>;
  unsubscribe?: () => void;
}

const LIVE = Promise.resolve();

/**
 * This instance's sockets, by conversation and by site. The hub holds one engine subscription per
 * topic that has a member here, so fan-out costs only the conversations this instance serves.
 */
export class Hub {
  private readonly topics = new Map<string, Topic>();

  constructor(private readonly engine: Engine) {}

  /** Add a member to its conversation's and site's topics; resolves once both subscriptions are live. */
  async join(member: HubMember): Promise<void> {
    const conversation = this.add(conversationTopic(member.conversationId), member);
    const site = this.add(siteTopic(member.siteKey), member);
    await conversation;
    await site;
  }

  /** Remove a member; a topic left empty is unsubscribed. */
  leave(member: HubMember): void {
    this.remove(conversationTopic(member.conversationId), member);
    this.remove(siteTopic(member.siteKey), member);
  }

  private add(name: string, member: HubMember): Promise<void> {
    const topic = this.topics.get(name);
    if (topic) {
      if (topic.members instanceof Set) topic.members.add(member);
      else if (topic.members !== member) topic.members = new Set([topic.members, member]);
      return topic.ready;
    }
    const created: Topic = { members: member, ready: LIVE };
    const subscribing = this.engine.subscribe(name, (item) => this.dispatch(created, item)).then((unsubscribe) => {
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

  /** Deliver one fan-out item to the local members of its topic. */
  private dispatch(topic: Topic, item: FanoutItem): void {
    const { members } = topic;
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
}
