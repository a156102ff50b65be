import { topicOf, type DraftItem, type FanoutItem, type TransientItem } from './types.js';

type Listener = (item: FanoutItem) => void;

/**
 * Fan-out inside one process, for engines that serve one relay instance (memory, SQLite): topics
 * with their listeners. A listener that throws does not keep the item from the others.
 *
 * A topic's listeners are an array: the relay's hub subscribes once per topic, so most topics have
 * one listener, and an array of one costs a fraction of a Set (an open widget has a topic of its own).
 */
export class LocalFanout {
  private readonly topics = new Map<string, Listener[]>();
  /** Listeners of every topic (`Engine.subscribeAll`). */
  private all: Listener[] = [];

  constructor(
    private readonly onListenerError: (error: unknown) => void,
    /** What each delivery hands the listeners (a copy, where the engine keeps the original). */
    private readonly prepare: <T>(item: T) => T = (item) => item,
  ) {}

  subscribe(topic: string, listener: Listener): () => void {
    const listeners = this.topics.get(topic);
    // A literal of one: `[]` and a push would reserve room for 17.
    if (listeners) listeners.push(listener);
    else this.topics.set(topic, [listener]);
    // One function subscribed twice is two subscriptions, each ended on its own (once).
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const current = this.topics.get(topic);
      const at = current ? current.indexOf(listener) : -1;
      if (at < 0) return;
      if (current!.length === 1) this.topics.delete(topic);
      else current!.splice(at, 1);
    };
  }

  /** Every topic's items to `listener`, until the returned function is called. */
  subscribeAll(listener: Listener): () => void {
    const entry: Listener = (item) => listener(item); // its own identity: subscribed twice is twice
    this.all = [...this.all, entry];
    return () => {
      this.all = this.all.filter((l) => l !== entry);
    };
  }

  /** Hand an item to its topic's listeners, then to those of every topic. */
  deliver(item: Extract<FanoutItem, { kind: 'entry' }> | DraftItem | TransientItem): void {
    const listeners = this.topics.get(topicOf(item));
    const all = this.all; // replaced, never changed in place: those subscribed now
    if (!listeners && all.length === 0) return;
    const shared = this.prepare(item);
    if (listeners) {
      // Those subscribed now: a listener may subscribe or unsubscribe others meanwhile.
      if (listeners.length === 1) this.call(listeners[0]!, shared);
      else for (const listener of [...listeners]) this.call(listener, shared);
    }
    for (const listener of all) this.call(listener, shared);
  }

  private call(listener: Listener, item: FanoutItem): void {
    try {
      listener(item);
    } catch (error) {
      this.onListenerError(error);
    }
  }

  clear(): void {
    this.topics.clear();
  }
}

/** Counted slots inside one process (`Engine.acquireSlot` for engines that serve one relay instance). */
export class LocalSlots {
  private readonly held = new Map<string, number>();

  acquire(key: string, cap: number): boolean {
    const held = this.held.get(key) ?? 0;
    if (held >= cap) return false;
    this.held.set(key, held + 1);
    return true;
  }

  release(key: string): void {
    const held = this.held.get(key) ?? 0;
    if (held > 1) this.held.set(key, held - 1);
    else this.held.delete(key);
  }
}
