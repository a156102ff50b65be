const ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';

/**
 * A random URL-safe id (21 characters, like nanoid), optionally prefixed: `newId('msg_')`.
 * Use it as the idempotency key of a message or event, and store it with the work it
 * belongs to, so a retried call reuses the same id.
 */
export function newId(prefix = ''): string {
  const bytes = crypto.getRandomValues(new Uint8Array(21));
  let id = prefix;
  for (const b of bytes) id += ALPHABET[b & 63];
  return id;
}
