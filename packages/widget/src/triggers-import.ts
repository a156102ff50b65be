// How the npm build loads the trigger code: a chunk of its own. The script-tag build swaps this
// module for triggers-script.ts (see vite.config.ts).

/** The trigger code (triggers.ts), loaded once, when the site config has triggers. */
export const loadTriggers = (): Promise<typeof import('./triggers.js')> => import('./triggers.js');
