// Entry of dist/parley.iife.js, the script-tag bundle the loader fetches.
import { installGlobal } from './global.js';

installGlobal(window as { Parley?: import('./global.js').ParleyGlobal });
