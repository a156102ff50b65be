import type { createEmitter } from './emitter.js';
import type { ClientEvents, ClientOptions, Snapshot } from './types.js';

/** The snapshot of a client that has not connected, with the greeting and name its options give. */
export const blank = (consented: boolean, o: ClientOptions): Snapshot => ({
  state: 'idle',
  timeline: [],
  unread: 0,
  greeting: o.greeting || null,
  lang: null,
  siteName: o.siteName || '',
  online: true,
  agent: null,
  typing: null,
  queue: null,
  ratingRequested: null,
  closed: false,
  identity: null,
  consented,
  uploads: null,
});

/**
 * The snapshot and its updates: `set` applies a patch at once; `change` fires once per task
 * however many updates a frame makes, then `unread` if the count differs from the last one told.
 * A UI that marks what it shows as read in its `change` listener (an open panel) keeps it at 0.
 */
export function createSnapshot(emit: ReturnType<typeof createEmitter<ClientEvents>>['emit'], first: Snapshot) {
  let snap = first;
  let changed = false;
  /** The unread count last told to `unread` listeners. */
  let told = 0;
  const set = (patch: Partial<Snapshot>) => {
    snap = { ...snap, ...patch };
    if (changed) return;
    changed = true;
    queueMicrotask(() => {
      changed = false;
      emit('change', snap);
      if (snap.unread !== told) emit('unread', (told = snap.unread));
    });
  };
  return [() => snap, set] as const;
}
