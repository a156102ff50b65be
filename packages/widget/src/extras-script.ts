// How the script-tag bundle loads the extras: dist/parley-extras.js, from beside the bundle
// itself (a page's `script-src` that allows the bundle allows it). vite.config.ts puts this
// module in place of extras-import.ts in that build.
import { loadBeside } from './script-beside.js';

/** The extras (extras.ts), built as the `ParleyExtras` global of dist/parley-extras.js. */
export const loadExtras = (): Promise<typeof import('./extras.js')> => loadBeside('Extras');
