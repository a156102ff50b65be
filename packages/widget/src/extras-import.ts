// How the npm build loads the extras: a chunk of its own, sharing the app's Preact. The
// script-tag build swaps this module for extras-script.ts (see vite.config.ts).

/** The extras (extras.ts), loaded once. */
export const loadExtras = (): Promise<typeof import('./extras.js')> => import('./extras.js');
