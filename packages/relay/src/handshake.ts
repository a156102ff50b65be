import { PROTOCOL_VERSION, verifyHmacSha256Hex, type ClosingErrorCode, type HelloFrame, type VisitorContext } from '@parley/protocol';
import { secretList, type SiteConfig } from './config.js';
import type { Conversation, ConversationIdentity, Engine } from './engine/types.js';
import { newId } from './ids.js';
import type { Rate } from './engine/types.js';
import type { AuthThrottle } from './auth-throttle.js';
import type { VerifiedClaims, VisitorTokens } from './visitor-token.js';

/** A configured site with its origin allow-list ready for lookups. */
export interface SiteRuntime {
  config: SiteConfig;
  anyOrigin: boolean;
  origins: ReadonlySet<string>;
}

/** What the handshake needs. */
export interface HandshakeContext {
  sites: ReadonlyMap<string, SiteRuntime>;
  /** Signs and verifies a site's visitor tokens (current and grace-period secrets, expiry). */
  tokens: (siteKey: string) => VisitorTokens;
  /** Failed token and identity checks per address. */
  authThrottle: AuthThrottle;
  engine: Engine;
  /** New visitors (no token) accepted per client address, in a bucket the engine shares across instances. */
  newVisitorRate: Rate;
  now: () => number;
}

/** An accepted hello: who the visitor is and which conversation the socket serves. */
export interface Session {
  site: SiteRuntime;
  visitorId: string;
  /** `v:<visitorId>`, or `u:<userId>` for a verified user. */
  ownerKey: string;
  /** Set for a verified user. */
  userId?: string;
  identity?: ConversationIdentity;
  /** The conversation this socket serves: stored, or to be created by the visitor's first action. */
  conversationId: string;
  /** The stored conversation; null until the visitor acts (nothing is stored for a visitor who never chats). */
  conversation: Conversation | null;
  /** The client's conversation is gone, or its log lost history: it must drop its timeline and lastSeq. */
  reset: boolean;
  /** The seq to replay after. */
  afterSeq: number;
  /** The visitor asked for a new conversation: creating it replaces the owner's current one. */
  fresh: boolean;
  /** Context to store when the conversation is created. */
  context: VisitorContext;
}

/** A refused hello: an error code with a close code of its own (`CLOSE_OF`), which carries the retry policy. */
export interface Refusal {
  code: ClosingErrorCode;
}

const refuse = (code: ClosingErrorCode): Refusal => ({ code });

/**
 * Check a `hello` (version, site key, origin, identity signature, visitor token, the per-IP cap
 * on new visitors) and find the conversation it resumes, without creating anything:
 * - a verified user resumes their open conversation on any device, else their token's;
 * - an anonymous visitor resumes their token's conversation, else their open one;
 * - a token whose conversation is gone, with a lastSeq the client has shown, gets a new
 *   conversation id and `reset`; so does a stored log that ends before the client's lastSeq;
 * - a new visitor gets fresh ids and nothing stored.
 */
export async function handshake(ctx: HandshakeContext, frame: HelloFrame, origin: string | undefined, ip: string): Promise<Session | Refusal> {
  if (frame.v !== PROTOCOL_VERSION) return refuse('UNSUPPORTED_VERSION');
  const site = ctx.sites.get(frame.siteKey);
  if (!site) return refuse('BAD_SITE_KEY');
  // No Origin header: not a browser. Refused unless the site serves native apps (`allowNoOrigin`), even with "*".
  if (origin === undefined ? !site.config.allowNoOrigin : !site.anyOrigin && !site.origins.has(origin)) return refuse('ORIGIN_REFUSED');
  const siteKey = site.config.siteKey;
  // An address that failed too many checks gets no more checks for a while.
  const credentials = frame.token !== undefined || frame.identity?.signature !== undefined;
  if (credentials && ctx.authThrottle.blockedFor(ip) > 0) return refuse('RATE_LIMITED');

  let identity: ConversationIdentity | undefined;
  if (frame.identity) {
    const { userId, name, email, attrs, signature } = frame.identity;
    let verified = false;
    if (signature && site.config.identitySecret) {
      // Any of the site's identity secrets (more than one during a rotation).
      for (const secret of secretList(site.config.identitySecret)) if (!verified) verified = await verifyHmacSha256Hex(secret, userId, signature);
      if (!verified) {
        await ctx.authThrottle.failed(ip);
        return refuse('IDENTITY_INVALID');
      }
    }
    identity = { userId, verified };
    if (name !== undefined) identity.name = name;
    if (email !== undefined) identity.email = email;
    if (attrs !== undefined) identity.attrs = attrs;
  }
  const userId = identity?.verified ? identity.userId : undefined;

  let claims: VerifiedClaims | null = null;
  if (frame.token !== undefined) {
    claims = ctx.tokens(siteKey).verify(frame.token);
    if (!claims || claims.siteKey !== siteKey) {
      await ctx.authThrottle.failed(ip);
      return refuse('TOKEN_INVALID');
    }
    // Revoked by the backend: tokens issued up to the revocation are refused (not a failed guess).
    const revokedAt = await ctx.engine.visitorRevokedAt(siteKey, claims.visitorId);
    if (revokedAt !== null && claims.issuedAt * 1000 <= revokedAt) return refuse('TOKEN_INVALID');
  } else if (!(await ctx.engine.takeToken(`nv:${ip}`, ctx.newVisitorRate))) {
    return refuse('RATE_LIMITED');
  }
  const visitorId = claims?.visitorId ?? newId('v_');
  const ownerKey = userId !== undefined ? `u:${userId}` : `v:${visitorId}`;
  // A token issued to a signed-in user does not carry its conversation over to someone else (or to a signed-out page).
  const tokenConversation = claims && claims.userId === userId ? claims.conversationId : undefined;
  const lastSeq = frame.lastSeq ?? 0;
  const { engine } = ctx;

  const load = async (id: string | null | undefined): Promise<Conversation | null> => {
    if (!id) return null;
    const c = await engine.getConversation(id);
    return c && c.siteKey === siteKey ? c : null;
  };
  const current = () => engine.currentConversation(siteKey, ownerKey).then(load);

  let conversation: Conversation | null = null;
  let conversationId: string | undefined;
  let reset = false;
  if (!frame.fresh) {
    if (userId !== undefined) {
      const own = await current();
      if (own && !own.closed) conversation = own;
      else conversation = (await load(tokenConversation)) ?? (tokenConversation ? null : own);
    } else {
      conversation = await load(tokenConversation);
      if (!conversation) {
        const own = await current();
        if (own && !own.closed) conversation = own;
      }
    }
    if (conversation) {
      conversationId = conversation.id;
      // The log ends before what the client has shown: its history was lost.
      if (lastSeq > conversation.lastSeq) reset = true;
    } else if (tokenConversation) {
      // Never stored (the visitor had not acted yet), or gone.
      if (lastSeq > 0) reset = true;
      else conversationId = tokenConversation;
    }
  }
  conversationId ??= newId('c_');

  const context: VisitorContext = frame.page ? { page: frame.page } : {};
  const session: Session = {
    site,
    visitorId: conversation?.visitorId ?? visitorId,
    ownerKey,
    conversationId,
    conversation,
    reset,
    afterSeq: reset ? 0 : lastSeq,
    fresh: frame.fresh === true,
    context,
  };
  if (userId !== undefined) session.userId = userId;
  if (identity) session.identity = identity;
  return session;
}

/** True for a refused hello. */
export function isRefusal(r: Session | Refusal): r is Refusal {
  return 'code' in r;
}
