// Standard Webhooks signing and verifying (https://www.standardwebhooks.com) and identity
// signatures, with Web Crypto so the same code runs in Node and in browsers. The relay signs its
// deliveries with Node's synchronous HMAC (relay/src/webhook-signer.ts, tested equal to
// `signWebhook`) and its visitor tokens in relay/src/visitor-token.ts.
import { HEX_SHA256_RE } from './patterns.js';

const encoder = new TextEncoder();

/** Headers of a signed webhook, lower-cased. */
export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

function fromBase64(value: string): Uint8Array<ArrayBuffer> {
  const bin = atob(value);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toBase64(bytes: ArrayBuffer): string {
  let bin = '';
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * The key bytes of a Standard Webhooks secret (`whsec_` + base64). Throws on a secret
 * that is not base64: that is a configuration mistake, caught at start-up.
 */
export function webhookSecretBytes(secret: string): Uint8Array<ArrayBuffer> {
  const b64 = secret.startsWith('whsec_') ? secret.slice(6) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new TypeError('Webhook secret must be whsec_ followed by base64.');
  return fromBase64(b64);
}

// Importing a key costs more than the HMAC itself, and a relay or a merchant's server
// signs and verifies with a handful of secrets, so keep their keys.
const keys = new Map<string, Promise<CryptoKey>>();

/**
 * The HMAC-SHA256 key of `secret`, imported once: a Standard Webhooks secret when `webhook`
 * (throws when it is not base64), else the secret's UTF-8 bytes.
 */
function hmacKey(secret: string, webhook: boolean, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  const id = `${webhook ? 'w' : 'u'}${usage}:${secret}`;
  let key = keys.get(id);
  if (!key) {
    const raw = webhook ? webhookSecretBytes(secret) : encoder.encode(secret);
    if (keys.size >= 64) keys.clear();
    key = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
    key.catch(() => keys.delete(id));
    keys.set(id, key);
  }
  return key;
}

/** The `webhook-signature` header value (`v1,<base64>`) for one delivery. */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await hmacKey(secret, true, 'sign');
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(mac)}`;
}

/** Why a webhook signature check failed. */
export type WebhookVerifyFailure = 'MISSING_HEADERS' | 'BAD_TIMESTAMP' | 'STALE_TIMESTAMP' | 'BAD_SIGNATURE';

/**
 * Check a delivery's signature in constant time (Web Crypto `verify`) and reject
 * timestamps further than `toleranceSec` from now. Never throws.
 */
export async function verifyWebhookSignature(
  secret: string,
  headers: Partial<WebhookHeaders>,
  body: string,
  options: { toleranceSec?: number; now?: number } = {},
): Promise<{ ok: true } | { ok: false; reason: WebhookVerifyFailure }> {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (!id || !ts || !sig) return { ok: false, reason: 'MISSING_HEADERS' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'BAD_TIMESTAMP' };
  const nowSec = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSec - Number(ts)) > (options.toleranceSec ?? 300)) return { ok: false, reason: 'STALE_TIMESTAMP' };
  let key: CryptoKey;
  try {
    key = await hmacKey(secret, true, 'verify');
  } catch {
    return { ok: false, reason: 'BAD_SIGNATURE' };
  }
  const data = encoder.encode(`${id}.${ts}.${body}`);
  // The header may carry several space-separated signatures (key rotation).
  for (const part of sig.split(' ')) {
    const [version, value] = part.split(',', 2);
    // A v1 signature is the base64 of a 32-byte HMAC: 43 characters and one `=`. Anything else
    // cannot match, and some of it (`v1,A`) is not even base64 that `atob` accepts.
    if (version !== 'v1' || !value || !/^[A-Za-z0-9+/]{43}=$/.test(value)) continue;
    if (await crypto.subtle.verify('HMAC', key, fromBase64(value), data)) return { ok: true };
  }
  return { ok: false, reason: 'BAD_SIGNATURE' };
}

/** hex(HMAC-SHA256(secret, data)): the identity signature a merchant's server computes. */
export async function hmacSha256Hex(secret: string, data: string): Promise<string> {
  const key = await hmacKey(secret, false, 'sign');
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(data)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Constant-time check of a hex HMAC-SHA256 (Web Crypto `verify`). Never throws. */
export async function verifyHmacSha256Hex(secret: string, data: string, hex: string): Promise<boolean> {
  // Lower-case hex only: one spelling of each signature.
  if (!HEX_SHA256_RE.test(hex)) return false;
  const key = await hmacKey(secret, false, 'verify');
  const sig = new Uint8Array(32);
  for (let i = 0; i < 32; i++) sig[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return crypto.subtle.verify('HMAC', key, sig, encoder.encode(data));
}
