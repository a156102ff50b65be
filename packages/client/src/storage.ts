import type { Greeting, SiteTheme } from '@parley/protocol';
import type { ChatMessage, IdentifyOptions, LangInfo, StorageLike, TimelineItem } from './types.js';

/** Timeline entries kept in storage per conversation. */
export const MAX_STORED_ITEMS = 200;

/** The stored state of the current conversation. Tabs merge into it, never overwrite it blindly. */
export interface ConversationRecord {
  conv: string;
  /** Highest sequence number received. */
  seq: number;
  /** The visitor has read everything up to here (shared by every tab). */
  read: number;
  /** A `notify` was fired for everything up to here (shared by every tab). */
  ntf: number;
  /** Recent stored timeline entries, in sequence order. */
  items: TimelineItem[];
}

/** What the client keeps, one storage key each under `parley:<siteKey>:`. */
export interface Saved {
  token: string;
  log: ConversationRecord;
  out: ChatMessage[];
  id: IdentifyOptions;
  /** The site as last seen; `tag` is the locale it was asked in, `lang` its answer (see `Snapshot.lang`). */
  greet: { greeting: Greeting; siteName: string; online: boolean; tag?: string; lang?: LangInfo | null; theme?: SiteTheme };
}

// `trg`: the widget's proactive triggers keep the visitor's frequency caps there; forgotten with the rest.
const KEYS = ['token', 'log', 'out', 'id', 'greet', 'consent', 'trg'] as const;


/**
 * Storage namespaced by site key. Values are always held in memory; they reach `storage`
 * only once consent is given (at once unless `requireConsent`). Storage faults (quota,
 * private modes, blocked access) degrade to memory.
 */
export function createStore(storage: StorageLike | null, siteKey: string, requireConsent: boolean) {
  const prefix = `parley:${siteKey}:`;
  let mem: Partial<Saved> = {};
  const io = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  const write = (key: string, value: unknown) =>
    io(() => (value === undefined ? storage?.removeItem(prefix + key) : storage?.setItem(prefix + key, JSON.stringify(value))));
  let ok = !requireConsent || io(() => storage?.getItem(prefix + 'consent')) === '1';

  const store = {
    /** Whether values reach storage. */
    consented: () => ok,
    /** The freshest value: storage (another tab may have written it) when allowed, else memory. */
    get<K extends keyof Saved>(key: K): Saved[K] | undefined {
      const raw = ok ? io(() => storage?.getItem(prefix + key)) : null;
      if (raw != null) {
        const value = io(() => JSON.parse(raw) as Saved[K]);
        if (value !== undefined) return value;
      }
      return mem[key];
    },
    set<K extends keyof Saved>(key: K, value: Saved[K] | undefined): void {
      mem[key] = value;
      if (ok) write(key, value);
    },
    /**
     * Merge this tab's view of a conversation into the stored one and return the result.
     * Another tab's newer conversation is left alone unless `force` (this tab just switched).
     */
    merge(rec: ConversationRecord, force?: boolean): ConversationRecord {
      const cur = store.get('log');
      if (cur && cur.conv !== rec.conv && !force) return rec;
      let next = rec;
      if (cur && cur.conv === rec.conv) {
        const bySeq = new Map<number, TimelineItem>();
        for (const item of [...(cur.items ?? []), ...rec.items]) bySeq.set(item.seq!, item);
        next = {
          conv: rec.conv,
          seq: Math.max(cur.seq, rec.seq),
          read: Math.max(cur.read, rec.read),
          ntf: Math.max(cur.ntf, rec.ntf),
          items: [...bySeq.values()].sort((a, b) => a.seq! - b.seq!).slice(-MAX_STORED_ITEMS),
        };
      } else next = { ...rec, items: rec.items.slice(-MAX_STORED_ITEMS) };
      store.set('log', next);
      return next;
    },
    /** Allow storage and write what is held in memory. */
    consent(): void {
      if (ok) return;
      ok = true;
      write('consent', 1);
      for (const key of Object.keys(mem) as (keyof Saved)[]) write(key, mem[key]);
    },
    /** Forget everything, in memory and in storage (consent included). */
    clear(): void {
      for (const key of KEYS) io(() => storage?.removeItem(prefix + key));
      mem = {};
      ok = !requireConsent;
    },
  };
  return store;
}

/** The page's `localStorage`, or null where it is missing or access is denied (sandboxed frames, blocked cookies). */
export function defaultStorage(): StorageLike | null {
  try {
    return typeof localStorage !== 'undefined' ? localStorage : null;
  } catch {
    return null;
  }
}
