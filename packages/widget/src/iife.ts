// Entry of dist/parley.iife.js, the script-tag bundle the loader fetches.
import { installGlobal } from './global.js';

// Mount in a task of its own, after the one that compiled and ran this bundle: short tasks
// instead of one long one on a slow phone. Commands queue in the loader's stub meanwhile.
setTimeout(() => installGlobal(window as { Parley?: import('./global.js').ParleyGlobal }));
