export { createClient } from './client.js';
export { backoff } from './backoff.js';
export { widgetSocketUrl } from './relay-url.js';
export type * from './types.js';
export type { Link } from './link-import.js';
