// How the client gets its connection code (link.ts): at hand, synchronously. The widget's
// script-tag build puts a module in place of this one that loads it from beside the bundle.
import * as link from './link.js';

export type Link = typeof link;

/** The connection code: the module itself, or (script-tag bundle) a promise of it. */
export const loadLink = (): Link | Promise<Link> => link;
