import { describe, expect, test } from 'vitest';
import { MAX_STORED_ITEMS, createStore, type ConversationRecord } from './storage.js';
import type { StorageLike, TimelineItem } from './types.js';
import { memoryStorage } from '../test/memory-storage.js';


const item = (seq: number): TimelineItem => ({ kind: 'msg', id: `m${seq}`, seq, ts: seq, from: { role: 'bot' }, body: { type: 'text', text: `#${seq}` } });
const rec = (conv: string, seqs: number[], extra: Partial<ConversationRecord> = {}): ConversationRecord => ({
  conv,
  seq: Math.max(0, ...seqs),
  read: 0,
  ntf: 0,
  items: seqs.map(item),
  ...extra,
});

describe('storage', () => {
  test('keys are namespaced by site key', () => {
    const { map, storage } = memoryStorage();
    createStore(storage, 'shop-a', false).set('token', 't1');
    createStore(storage, 'shop-b', false).set('token', 't2');
    expect([...map.keys()].sort()).toEqual(['parley:shop-a:token', 'parley:shop-b:token']);
    expect(createStore(storage, 'shop-a', false).get('token')).toBe('t1');
  });

  test('with requireConsent nothing is written until consent, then everything held is', () => {
    const { map, storage } = memoryStorage();
    const store = createStore(storage, 'shop', true);
    store.set('token', 't1');
    store.merge(rec('c1', [1, 2]));
    expect(map.size).toBe(0);
    expect(store.get('token')).toBe('t1'); // still usable from memory
    store.consent();
    expect(map.get('parley:shop:token')).toBe('"t1"');
    expect(JSON.parse(map.get('parley:shop:log')!).items).toHaveLength(2);
    // Consent is remembered: the next page load writes at once.
    const next = createStore(storage, 'shop', true);
    expect(next.consented()).toBe(true);
    expect(next.get('token')).toBe('t1');
  });

  test('clear removes every key of the site, consent included, and memory too', () => {
    const { map, storage } = memoryStorage();
    createStore(storage, 'other', false).set('token', 'keep');
    const store = createStore(storage, 'shop', true);
    store.consent();
    store.set('token', 't1');
    store.set('out', []);
    store.clear();
    expect([...map.keys()]).toEqual(['parley:other:token']);
    expect(store.get('token')).toBeUndefined();
    expect(store.consented()).toBe(false);
  });

  test('merging unions the timeline by seq and keeps the highest positions', () => {
    const { storage } = memoryStorage();
    const store = createStore(storage, 'shop', false);
    store.merge(rec('c1', [1, 2, 3], { read: 3 }));
    const merged = store.merge(rec('c1', [2, 4], { ntf: 4 }));
    expect(merged.items.map((i) => i.seq)).toEqual([1, 2, 3, 4]);
    expect(merged).toMatchObject({ seq: 4, read: 3, ntf: 4 });
  });

  test('the stored timeline is bounded', () => {
    const { storage } = memoryStorage();
    const store = createStore(storage, 'shop', false);
    const seqs = Array.from({ length: MAX_STORED_ITEMS + 50 }, (_, i) => i + 1);
    const merged = store.merge(rec('c1', seqs));
    expect(merged.items).toHaveLength(MAX_STORED_ITEMS);
    expect(merged.items[0]!.seq).toBe(51);
  });

  test("a tab on an older conversation does not overwrite another tab's newer one", () => {
    const { storage } = memoryStorage();
    const store = createStore(storage, 'shop', false);
    store.merge(rec('new', [1]), true);
    store.merge(rec('old', [1, 2, 3]));
    expect(store.get('log')!.conv).toBe('new');
    store.merge(rec('newer', []), true);
    expect(store.get('log')!.conv).toBe('newer');
  });

  test('a storage that throws degrades to memory', () => {
    const broken: StorageLike = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('quota');
      },
      removeItem: () => {
        throw new Error('denied');
      },
    };
    const store = createStore(broken, 'shop', false);
    store.set('token', 't1');
    expect(store.get('token')).toBe('t1');
    expect(() => store.clear()).not.toThrow();
  });
});
