import type { StorageLike } from '../src/types.js';

/** A Storage stand-in over a Map: one per browser profile (tabs and reloads share it). */
export function memoryStorage() {
  const map = new Map<string, string>();
  const storage: StorageLike = {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  };
  return { map, storage };
}
