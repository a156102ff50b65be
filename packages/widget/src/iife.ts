// Entry of dist/parley.iife.js, the script-tag bundle the loader fetches.
import { installGlobal } from './global.js';

// The `ParleyBundle` global: what the extras (dist/parley-extras.js; `extrasCore` in
// vite.config.ts) take from the bundle instead of carrying their own.
export { Fragment, h } from 'preact';
export { Timeline } from './timeline.js';

// Mount in a task of its own, after the one that compiled and ran this bundle: short tasks
// instead of one long one on a slow phone. Commands queue in the loader's stub meanwhile.
setTimeout(() => installGlobal(window as { Parley?: import('./global.js').ParleyGlobal }));
