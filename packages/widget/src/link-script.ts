// How the script-tag bundle gets the client's connection code (the frame guard, the close codes'
// meanings, multi-tab coordination): dist/parley-connection.js, from beside the bundle, on the
// visitor's first intent to chat. vite.config.ts puts this module in place of the client's
// link-import.js in that build.
import type { Link } from '@parley/client';
import { loadBeside } from './script-beside.js';

/** The client's link.ts, built as the `ParleyConnection` global of dist/parley-connection.js. */
export const loadLink = (): Promise<Link> => loadBeside('Connection');
