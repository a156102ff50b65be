/**
 * Handle each webhook event once. The relay delivers at least once: after a timeout, a crash
 * or a lost answer the same event (the same `webhook-id`) comes again. A dedupe store remembers
 * which ids were handled; `createDedupe(...).once(id, handler)` runs the handler for the first
 * delivery of an id only.
 */

/** Where an id stands in the store. */
export type DedupeState = 'new' | 'processing' | 'done';

/**
 * The store behind `createDedupe`: memory by default; share one (Redis, a database) between
 * the processes of a backend so each event is handled once across all of them.
 *
 * A Redis store is three commands (see docs/backend-api.md):
 * `begin` = `SET key processing NX PX leaseMs`, then `GET key` when that did not set it;
 * `finish` = `SET key done PX ttlMs`; `abandon` = `DEL key`.
 */
export interface DedupeStore {
  /**
   * Claim `key` for `leaseMs`. `'new'`: nobody had it, and now this caller does. `'processing'`:
   * another delivery of it is being handled (its claim lapses after its lease). `'done'`: handled.
   */
  begin(key: string, leaseMs: number): DedupeState | Promise<DedupeState>;
  /** Mark `key` handled, remembered for `ttlMs`. */
  finish(key: string, ttlMs: number): void | Promise<void>;
  /** Drop a claim whose handler failed, so the next delivery runs it again. */
  abandon(key: string): void | Promise<void>;
}

export interface MemoryDedupeStoreOptions {
  /** Most ids kept; the oldest are forgotten first. Default 100,000. */
  maxKeys?: number;
  /** Clock in ms, for tests. Default `Date.now`. */
  now?: () => number;
}

/** A store in this process's memory: enough for one backend process. */
export function memoryDedupeStore(options: MemoryDedupeStoreOptions = {}): DedupeStore {
  const maxKeys = options.maxKeys ?? 100_000;
  const now = options.now ?? Date.now;
  // Insertion order is expiry order for equal TTLs; a re-set key moves to the end.
  const keys = new Map<string, { state: 'processing' | 'done'; until: number }>();
  const set = (key: string, state: 'processing' | 'done', ms: number) => {
    keys.delete(key);
    keys.set(key, { state, until: now() + ms });
    while (keys.size > maxKeys) keys.delete(keys.keys().next().value as string);
  };
  return {
    begin(key, leaseMs) {
      const held = keys.get(key);
      if (held && held.until > now()) return held.state;
      set(key, 'processing', leaseMs);
      return 'new';
    },
    finish(key, ttlMs) {
      set(key, 'done', ttlMs);
    },
    abandon(key) {
      if (keys.get(key)?.state === 'processing') keys.delete(key);
    },
  };
}

export interface DedupeOptions {
  /** Default: `memoryDedupeStore()`. */
  store?: DedupeStore;
  /** How long a handled id is remembered, in ms. Default 48 h: longer than the relay's retry window (24 h). */
  ttlMs?: number;
  /** How long a claim holds while its handler runs, in ms. Default 60 s. */
  leaseMs?: number;
  /** Key prefix in the store. Default `parley:webhook:`. */
  prefix?: string;
}

/**
 * What `once` did. `'handled'`: the handler ran now and `value` is what it returned;
 * `'duplicate'`: the id was handled before (answer 2xx, do nothing); `'busy'`: another delivery
 * of the id is being handled right now (answer a non-2xx, such as 409 or 503, so the relay retries
 * later: if that handler fails, the retry runs it again).
 */
export type DedupeOutcome<T> = { status: 'handled'; value: T } | { status: 'duplicate' } | { status: 'busy' };

export interface Dedupe {
  /** Run `handler` unless `id` was handled or is being handled. A throwing handler releases the id and rethrows. */
  once<T>(id: string, handler: () => T | Promise<T>): Promise<DedupeOutcome<T>>;
}

/** Drop repeats of a webhook event by its `webhook-id` (equal to `event.id`). */
export function createDedupe(options: DedupeOptions = {}): Dedupe {
  const store = options.store ?? memoryDedupeStore();
  const ttlMs = options.ttlMs ?? 48 * 3600_000;
  const leaseMs = options.leaseMs ?? 60_000;
  const prefix = options.prefix ?? 'parley:webhook:';
  return {
    async once(id, handler) {
      const key = prefix + id;
      const state = await store.begin(key, leaseMs);
      if (state === 'done') return { status: 'duplicate' };
      if (state === 'processing') return { status: 'busy' };
      let value;
      try {
        value = await handler();
      } catch (err) {
        await store.abandon(key);
        throw err;
      }
      await store.finish(key, ttlMs);
      return { status: 'handled', value };
    },
  };
}
