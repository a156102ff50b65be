import type { ConnectionState } from './types.js';

export type StateChange = { from: ConnectionState; to: ConnectionState };

/**
 * The connection state. `set` is the only way to change it: it does nothing when the
 * state is unchanged and otherwise reports `{from, to}`.
 *
 * idle → connecting → open ⇄ reconnecting; any → closed; closed → connecting (`connect()`).
 */
export function createState(onChange: (change: StateChange) => void) {
  let state: ConnectionState = 'idle';
  return {
    get: () => state,
    set(to: ConnectionState): boolean {
      if (to === state) return false;
      const from = state;
      state = to;
      onChange({ from, to });
      return true;
    },
  };
}
