import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthThrottle } from './auth-throttle.js';
import { secretList, type SiteConfig } from './config.js';
import { CodedError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The site an `Authorization: Bearer <apiSecret>` header belongs to, or undefined. The secret is
 * compared with every site's in constant time, so timing reveals nothing.
 */
export function apiSecretAuth(sites: readonly SiteConfig[]): (header: string | undefined) => SiteConfig | undefined {
  // Every secret of every site (several during a rotation).
  const secrets = sites.flatMap((site) => secretList(site.apiSecret).map((secret) => ({ site, digest: digest(secret) })));
  return (header) => {
    const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/i.exec(header) : null;
    if (!match) return undefined;
    const given = digest(match[1]!);
    let found: SiteConfig | undefined;
    for (const s of secrets) if (timingSafeEqual(given, s.digest)) found = s.site;
    return found;
  };
}

/**
 * The site a backend request (REST or the backend socket's upgrade) authenticates as. An address
 * blocked for failing too often gets 429 `RATE_LIMITED` with `Retry-After` before its secret is
 * looked at; a wrong or missing secret counts as a failure and gets 401 `UNAUTHORIZED` (or the
 * 429 once it used up the address's allowance).
 */
export async function authenticateBackend(
  siteOf: (header: string | undefined) => SiteConfig | undefined,
  throttle: AuthThrottle,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<SiteConfig> {
  const refuse = (ms: number) => {
    void reply.header('retry-after', String(Math.ceil(ms / 1000)));
    return new CodedError('RATE_LIMITED', 'Too many failed authentications from this address; retry later.');
  };
  const blocked = throttle.blockedFor(req.ip);
  if (blocked > 0) throw refuse(blocked);
  const site = siteOf(req.headers.authorization);
  if (site) return site;
  const now = await throttle.failed(req.ip);
  throw now > 0 ? refuse(now) : new CodedError('UNAUTHORIZED');
}
