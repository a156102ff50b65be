// The connection code: what the client needs only once it connects (the frame guard, the close
// codes' meanings, multi-tab coordination). npm builds have it at hand (link-import.ts); the
// widget's script-tag bundle leaves it out and loads it, as dist/parley-connection.js, on the
// visitor's first intent to chat.
export { decodeServerFrame, errorOf, shouldReconnect } from '@parley/protocol';
export { createTabs } from './tabs.js';
