// The one id generator of Parley: message ids in the browser, entry, event and lease ids in the
// relay, idempotency keys in backends. Web Crypto, so it runs in browsers and in Node alike.

/**
 * The 64 url-safe characters, so a random byte & 63 picks one evenly. In nanoid's order, whose
 * runs of words compress well in the widget's bundle.
 */
const ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';
const LENGTH = 21;
// Randomness is drawn 2,688 bytes (128 ids) at a time: one getRandomValues call per 128 ids.
const pool = new Uint8Array(LENGTH * 128);
let offset = pool.length;

/**
 * A random url-safe id: `prefix` and 21 characters (126 bits), a valid protocol `Id`.
 * `newId('msg_')`. Store it with the work it names, so a retried call reuses the same id.
 */
export function newId(prefix = ''): string {
  if (offset > pool.length - LENGTH) {
    crypto.getRandomValues(pool);
    offset = 0;
  }
  // Made in one piece, not added up character by character: `id += c` leaves a chain of some ten
  // cons strings behind each id (about 400 bytes, where this takes 70) for as long as it is kept.
  return prefix + Array.from(pool.subarray(offset, (offset += LENGTH)), (b) => ALPHABET[b & 63]).join('');
}
