import { PROTOCOL_VERSION, verifyHmacSha256Hex, type ClosingErrorCode, type Greeting, type HelloFrame, type VisitorContext } from '@parley/protocol';
import { secretList, type SiteConfig } from './config.js';
import type { Conversation, ConversationIdentity, Engine } from './engine/types.js';
import { newId } from './ids.js';
import { localeView } from './site-locales.js';
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
  /** The site's greeting for the page's locale (`hello.page.locale`), for `welcome`. */
  greeting: Greeting;
  /**
   * The identity signature was refused (`IDENTITY_INVALID`), or not checked because the address is
   * blocked (`RATE_LIMITED`): the identity was dropped and the visitor chats anonymously; an `error`
   * frame with this code follows `welcome`.
   */
  identityError?: { code: 'IDENTITY_INVALID' | 'RATE_LIMITED'; message: string };
}

const IDENTITY_REFUSED = 'The identity signature does not match the user id; the visitor chats anonymously.';
const IDENTITY_BLOCKED = 'Too many failed authentications from this address: the identity was not checked; the visitor chats anonymously.';

/** A refused hello: an error code with a close code of its own (`CLOSE_OF`), which carries the retry policy. */
export interface Refusal {
  code: ClosingErrorCode;
}

const refuse = (code: ClosingErrorCode): Refusal => ({ code });

/**
 * Check a `hello` (version, site key, origin, identity signature, visitor token, the per-IP cap
 * on new visitors) and find the conversation it resumes, creating nothing (only an anonymous
 * conversation's sign-in changes its owner):
 * - a refused identity signature drops the identity: the visitor goes on anonymously (`identityError`);
 * - an anonymous visitor's token with a verified identity (a sign-in mid-chat) hands the token's
 *   open conversation to the user (`adoptConversation`), so the chat on screen carries over;
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
  // An address that failed too many checks gets no more checks for a while: a token is refused;
  // an identity signature is not checked, and the visitor goes on anonymously (below).
  const blocked = (frame.token !== undefined || frame.identity?.signature !== undefined) && ctx.authThrottle.blockedFor(ip) > 0;
  if (blocked && frame.token !== undefined) return refuse('RATE_LIMITED');

  let identity: ConversationIdentity | undefined;
  let identityError: Session['identityError'];
  if (frame.identity) {
    const { userId, signature } = frame.identity;
    let verified = false;
    if (signature && site.config.identitySecret) {
      if (blocked) {
        // Whatever the signature: a blocked guesser learns nothing, not even from a right guess.
        identityError = { code: 'RATE_LIMITED', message: IDENTITY_BLOCKED };
      } else {
        // Any of the site's identity secrets (more than one during a rotation).
        for (const secret of secretList(site.config.identitySecret)) if (!verified) verified = await verifyHmacSha256Hex(secret, userId, signature);
        if (!verified) {
          await ctx.authThrottle.failed(ip);
          identityError = { code: 'IDENTITY_INVALID', message: IDENTITY_REFUSED };
        }
      }
    }
  }
  // A refused signature: the whole identity is dropped (none of it is trusted), and the visitor chats anonymously.
  if (frame.identity && !identityError) {
    const { userId, name, email, attrs } = frame.identity;
    const verified = frame.identity.signature !== undefined && site.config.identitySecret !== undefined;
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
  // Signing in mid-chat: the anonymous conversation on screen becomes the user's current one (the
  // user's other open conversation, if any, stays open and is linked for the backend).
  if (!frame.fresh && claims && claims.userId === undefined && userId !== undefined && identity) {
    const adopted = await engine.adoptConversation({ id: claims.conversationId, siteKey, fromOwnerKey: `v:${claims.visitorId}`, ownerKey, identity });
    if (adopted.status === 'adopted') conversation = adopted.conversation;
  }
  if (!frame.fresh && !conversation) {
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
    if (!conversation && tokenConversation) {
      // Never stored (the visitor had not acted yet), or gone.
      if (lastSeq > 0) reset = true;
      else conversationId = tokenConversation;
    }
  }
  if (conversation) {
    conversationId = conversation.id;
    // The log ends before what the client has shown: its history was lost.
    if (lastSeq > conversation.lastSeq) reset = true;
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
    greeting: localeView(site.config, frame.page?.locale).greeting,
  };
  if (userId !== undefined) session.userId = userId;
  if (identity) session.identity = identity;
  if (identityError) session.identityError = identityError;
  return session;
}

/** True for a refused hello. */
export function isRefusal(r: Session | Refusal): r is Refusal {
  return 'code' in r;
}
