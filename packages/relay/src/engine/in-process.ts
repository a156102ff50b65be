import { topicOf, type DraftItem, type FanoutItem, type TransientItem } from './types.js';

type Listener = (item: FanoutItem) => void;

/**
 * Fan-out inside one process, for engines that serve one relay instance (memory, SQLite): topics
 * with their listeners. A listener that throws does not keep the item from the others.
 */
export class LocalFanout {
  private readonly topics = new Map<string, Set<Listener>>();

  constructor(
    private readonly onListenerError: (error: unknown) => void,
    /** What each delivery hands the listeners (a copy, where the engine keeps the original). */
    private readonly prepare: <T>(item: T) => T = (item) => item,
  ) {}

  subscribe(topic: string, listener: Listener): () => void {
    let listeners = this.topics.get(topic);
    if (!listeners) this.topics.set(topic, (listeners = new Set()));
    // A wrapper per call: one function subscribed twice is two subscriptions, each ended on its own.
    const own: Listener = (item) => listener(item);
    listeners.add(own);
    return () => {
      const current = this.topics.get(topic);
      if (!current?.delete(own)) return;
      if (current.size === 0) this.topics.delete(topic);
    };
  }

  /** Hand an item to its topic's listeners. */
  deliver(item: Extract<FanoutItem, { kind: 'entry' }> | DraftItem | TransientItem): void {
    const listeners = this.topics.get(topicOf(item));
    if (!listeners) return;
    const shared = this.prepare(item);
    for (const listener of [...listeners]) {
      try {
        listener(shared);
      } catch (error) {
        this.onListenerError(error);
      }
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
