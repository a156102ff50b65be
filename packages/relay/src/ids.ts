import { randomFillSync } from 'node:crypto';

// Ids are made on every append and webhook event: draw their randomness from a pool refilled
// 4 KiB at a time instead of one randomBytes call (and Buffer) per id.
const ID_BYTES = 16;
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** A random url-safe id: `prefix` + 21 characters (126 bits), fits the protocol's Id schema. */
export function newId(prefix: string): string {
  if (offset + ID_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return prefix + id.slice(0, 21);
}
