import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { webhookSecretBytes } from '@parley/protocol';

// The relay signs every delivery with one of a handful of site secrets: decode each once.
const keys = new Map<string, KeyObject>();

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= 64) keys.clear();
    key = createSecretKey(webhookSecretBytes(secret));
    keys.set(secret, key);
  }
  return key;
}

/**
 * The `webhook-signature` header value (`v1,<base64>`) for one delivery, per Standard Webhooks:
 * HMAC-SHA256 of `<id>.<timestamp>.<body>` under the `whsec_` secret's key bytes. The same value
 * as `signWebhook` from `@parley/protocol`, computed synchronously with Node's crypto. With several
 * secrets (a rotation), one signature per secret, space-separated: a backend that knows either
 * secret verifies the delivery.
 */
export function signWebhookSync(secret: string | readonly string[], id: string, timestamp: number, body: string | Buffer): string {
  if (typeof secret === 'string') return 'v1,' + createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return secret.map((s) => signWebhookSync(s, id, timestamp, body)).join(' ');
}
