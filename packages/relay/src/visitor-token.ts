import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a visitor token proves: this browser owns this conversation of this site. */
export interface VisitorClaims {
  siteKey: string;
  visitorId: string;
  conversationId: string;
  /** The verified user the conversation belongs to, when it was opened with a verified identity. */
  userId?: string;
}

/** Claims as verified, with the token's times (unix seconds). */
export interface VerifiedClaims extends VisitorClaims {
  issuedAt: number;
  expiresAt: number;
}

export interface TokenTimes {
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Lifetime of a new token, in ms. Default 30 days. */
  ttlMs?: number;
}

const VERSION = 'v1';
const DEFAULT_TTL_MS = 30 * 86_400_000;
/** The one accepted spelling: version, unpadded base64url payload, 43-character base64url MAC. */
const SHAPE = /^v1\.([A-Za-z0-9_-]{1,1400})\.([A-Za-z0-9_-]{43})$/;

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(`${VERSION}.${payload}`).digest();
}

/** Decode base64url only when `text` is the canonical encoding of what it decodes to (no stray bits). */
function canonical(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

/**
 * Sign claims into an opaque token: `v1.<base64url JSON>.<base64url HMAC-SHA256>`. The JSON holds
 * the claims, the time of issue (`i`) and the expiry (`x`), in unix seconds.
 */
export function signVisitorToken(secret: string, claims: VisitorClaims, times: TokenTimes = {}): string {
  const now = Math.floor((times.now ?? Date.now)() / 1000);
  const body: Record<string, string | number> = { s: claims.siteKey, v: claims.visitorId, c: claims.conversationId };
  if (claims.userId !== undefined) body.u = claims.userId;
  body.i = now;
  body.x = now + Math.ceil((times.ttlMs ?? DEFAULT_TTL_MS) / 1000);
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  return `${VERSION}.${payload}.${mac(secret, payload).toString('base64url')}`;
}

/**
 * Verify a token in constant time against each of `secrets` (the current one and those still in
 * their grace period). Null when forged, malformed, spelled in any but the canonical form (padding,
 * whitespace, other alphabets, stray bits), expired, or signed with no listed secret.
 */
export function verifyVisitorToken(secrets: string | readonly string[], token: string, times: Pick<TokenTimes, 'now'> = {}): VerifiedClaims | null {
  const shape = SHAPE.exec(token);
  if (!shape) return null;
  const payload = shape[1]!;
  const given = canonical(shape[2]!);
  const json = canonical(payload);
  if (!given || !json) return null;
  let signed = false;
  for (const secret of typeof secrets === 'string' ? [secrets] : secrets) {
    // Every secret is tried, so the time taken does not tell which one matched.
    if (timingSafeEqual(given, mac(secret, payload))) signed = true;
  }
  if (!signed) return null;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof body.s !== 'string' || typeof body.v !== 'string' || typeof body.c !== 'string') return null;
  if (!Number.isSafeInteger(body.i) || !Number.isSafeInteger(body.x)) return null;
  const expiresAt = body.x as number;
  if (expiresAt * 1000 <= (times.now ?? Date.now)()) return null;
  const claims: VerifiedClaims = { siteKey: body.s, visitorId: body.v, conversationId: body.c, issuedAt: body.i as number, expiresAt };
  if (typeof body.u === 'string') claims.userId = body.u;
  return claims;
}

/**
 * The relay's visitor tokens: signed with the first of `secrets`, verified with any of them (an
 * old secret stays listed for a grace period after a rotation). Every `welcome` carries a freshly
 * signed token, so a visitor who keeps coming back never reaches the expiry, and a token signed
 * with an old secret is replaced by one signed with the new secret.
 */
export class VisitorTokens {
  private readonly secrets: readonly string[];
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(options: { secrets: string | readonly string[]; ttlMs?: number; now?: () => number }) {
    this.secrets = typeof options.secrets === 'string' ? [options.secrets] : options.secrets;
    if (this.secrets.length === 0) throw new TypeError('VisitorTokens needs at least one secret.');
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  }

  sign(claims: VisitorClaims): string {
    return signVisitorToken(this.secrets[0]!, claims, { now: this.now, ttlMs: this.ttlMs });
  }

  verify(token: string): VerifiedClaims | null {
    return verifyVisitorToken(this.secrets, token, { now: this.now });
  }
}
