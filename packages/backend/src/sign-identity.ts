import { hmacSha256Hex } from '@parley/protocol';

/**
 * The identity signature for a logged-in shopper: hex(HMAC-SHA256(identitySecret, userId)).
 * Compute it on your server and render it into the page's `identify` call; the relay then
 * marks the identity as verified. Never send the identity secret to the browser.
 */
export function signIdentity(identitySecret: string, userId: string): Promise<string> {
  return hmacSha256Hex(identitySecret, userId);
}
