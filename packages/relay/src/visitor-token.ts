import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a visitor token proves: this browser owns this conversation of this site. */
export interface VisitorClaims {
  siteKey: string;
  visitorId: string;
  conversationId: string;
  /** The verified user the conversation belongs to, when it was opened with a verified identity. */
  userId?: string;
}

const VERSION = 'v1';

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(`${VERSION}.${payload}`).digest();
}

/** Sign claims into an opaque token: `v1.<base64url JSON>.<base64url HMAC-SHA256>`. */
export function signVisitorToken(secret: string, claims: VisitorClaims): string {
  const body: Record<string, string> = { s: claims.siteKey, v: claims.visitorId, c: claims.conversationId };
  if (claims.userId !== undefined) body.u = claims.userId;
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  return `${VERSION}.${payload}.${mac(secret, payload).toString('base64url')}`;
}

/** Verify a token in constant time; null when forged, malformed or signed with another secret. */
export function verifyVisitorToken(secret: string, token: string): VisitorClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return null;
  const [, payload, sig] = parts as [string, string, string];
  const given = Buffer.from(sig, 'base64url');
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof body.s !== 'string' || typeof body.v !== 'string' || typeof body.c !== 'string') return null;
    const claims: VisitorClaims = { siteKey: body.s, visitorId: body.v, conversationId: body.c };
    if (typeof body.u === 'string') claims.userId = body.u;
    return claims;
  } catch {
    return null;
  }
}
