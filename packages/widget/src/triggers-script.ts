// How the script-tag bundle loads the trigger code: dist/parley-triggers.js, from beside the
// bundle itself (a page's `script-src` that allows the bundle allows it). vite.config.ts puts this
// module in place of triggers-import.ts in that build.
import { loadBeside } from './script-beside.js';

/** The trigger code (triggers.ts), built as the `ParleyTriggers` global of dist/parley-triggers.js. */
export const loadTriggers = (): Promise<typeof import('./triggers.js')> => loadBeside('Triggers');
