import { randomBytes } from 'node:crypto';

/** A random url-safe id: `prefix` + 21 characters (126 bits), fits the protocol's Id schema. */
export function newId(prefix: string): string {
  return prefix + randomBytes(16).toString('base64url').slice(0, 21);
}
