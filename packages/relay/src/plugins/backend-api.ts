import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod/mini';
import {
  AvailabilityRequest,
  CONVERSATION_PAGE,
  ConversationListQuery,
  HistoryQuery,
  Id,
  LIMITS,
  PostEventRequest,
  PostMessageRequest,
  StreamRequest,
  check,
  type AvailabilityResponse,
  type ConversationListItem,
  type ConversationListResponse,
  type DeadLettersResponse,
  type HistoryResponse,
  type PostEventResponse,
  type PostMessageResponse,
  type RevokeVisitorResponse,
  type StreamResponse,
} from '@parley/protocol';
import type { AuthThrottle } from '../auth-throttle.js';
import type { SiteConfig } from '../config.js';
import { apiSecretAuth, authenticateBackend } from '../backend-auth.js';
import { conversationOfSite, postEvent, postMessage } from '../backend-writes.js';
import type { ConversationService } from '../conversation-service.js';
import { decodeListCursor } from '../engine/shared.js';
import type { Conversation, Engine } from '../engine/types.js';
import { CodedError } from '../errors.js';
import type { Streams } from '../streams.js';
import type { Rate } from '../token-bucket.js';
import type { RelayMetrics } from './metrics.js';

export interface BackendApiOptions {
  sites: readonly SiteConfig[];
  engine: Engine;
  service: ConversationService;
  streams: Streams;
  metrics: RelayMetrics;
  now: () => number;
  /** Token bucket per site. */
  rateLimit: Rate;
  /** Failed API secrets per address. */
  authThrottle: AuthThrottle;
  /** Lifetime of visitor tokens: how long a revocation must be kept. */
  tokenTtlMs: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The site whose API secret authenticated this request. */
    parleySite?: SiteConfig;
  }
}

/** The backend REST API under `/v1`: Bearer `apiSecret`, scoped to the secret's site. */
export async function backendApiPlugin(app: FastifyInstance, opts: BackendApiOptions): Promise<void> {
  const { engine, service, metrics } = opts;
  const siteOf = apiSecretAuth(opts.sites);


  /** The site's REST bucket, shared by every relay instance on the engine. */
  async function limit(site: SiteConfig): Promise<void> {
    if (!(await engine.takeToken(`rest:${site.siteKey}`, opts.rateLimit))) throw new CodedError('RATE_LIMITED');
  }

  app.addHook('onRequest', async (req, reply) => {
    const site = await authenticateBackend(siteOf, opts.authThrottle, req, reply);
    await limit(site);
    req.parleySite = site;
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.restRequests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
  });

  function site(req: FastifyRequest): SiteConfig {
    return req.parleySite!;
  }

  /** The conversation named in the path; another site's answers 404 like an unknown one, so ids cannot be probed. */
  function conversationOf(req: FastifyRequest): Promise<Conversation> {
    return conversationOfSite(engine, site(req), (req.params as { id: string }).id);
  }

  function body<T>(schema: z.ZodMiniType<T>, value: unknown): T {
    const parsed = check(schema, value);
    if (!parsed.ok) throw new CodedError('BAD_REQUEST', `The request body is not valid: ${parsed.message}`);
    return parsed.value;
  }

  app.post('/conversations/:id/messages', async (req, reply): Promise<PostMessageResponse> => {
    const conversation = await conversationOf(req);
    const result = await postMessage(service, site(req), conversation.id, body(PostMessageRequest, req.body));
    if (!result.duplicate) reply.code(201);
    return result;
  });

  app.post('/conversations/:id/events', async (req): Promise<PostEventResponse> => {
    const conversation = await conversationOf(req);
    return postEvent(service, site(req), conversation.id, body(PostEventRequest, req.body));
  });

  app.post('/conversations/:id/streams/:messageId', async (req): Promise<StreamResponse> => {
    const conversation = await conversationOf(req);
    const messageId = check(Id, (req.params as { messageId: string }).messageId);
    if (!messageId.ok) throw new CodedError('BAD_REQUEST', 'The message id must be 1–64 characters of A-Za-z0-9_-.');
    return opts.streams.step(site(req), conversation.id, messageId.value, body(StreamRequest, req.body));
  });

  app.get('/conversations/:id/messages', async (req): Promise<HistoryResponse> => {
    const conversation = await conversationOf(req);
    const query = check(HistoryQuery, req.query);
    if (!query.ok) throw new CodedError('BAD_REQUEST', `The query is not valid: ${query.message}`);
    const after = Number(query.value.after ?? 0);
    const limit = queryLimit(query.value.limit, 50, LIMITS.maxHistoryPage);
    return engine.read(conversation.id, after, limit);
  });

  app.post('/visitors/:visitorId/revoke', async (req): Promise<RevokeVisitorResponse> => {
    const visitorId = check(Id, (req.params as { visitorId: string }).visitorId);
    if (!visitorId.ok) throw new CodedError('NOT_FOUND');
    const revokedAt = opts.now();
    await engine.revokeVisitor(site(req).siteKey, visitorId.value, revokedAt, opts.tokenTtlMs);
    return { visitorId: visitorId.value, revokedAt };
  });

  app.get('/conversations', async (req): Promise<ConversationListResponse> => {
    const query = check(ConversationListQuery, req.query);
    if (!query.ok) throw new CodedError('BAD_REQUEST', `The query is not valid: ${query.message}`);
    const { cursor } = query.value;
    if (cursor !== undefined && !decodeListCursor(cursor)) throw new CodedError('BAD_CURSOR');
    const limit = queryLimit(query.value.limit, CONVERSATION_PAGE.defaultLimit, CONVERSATION_PAGE.maxLimit);
    const page = await engine.listConversations(site(req).siteKey, cursor === undefined ? { limit } : { limit, cursor });
    const items = page.conversations.map((c): ConversationListItem => ({
      id: c.id,
      visitorId: c.visitorId,
      createdAt: c.createdAt,
      lastSeq: c.lastSeq,
      closed: c.closed,
      started: c.started,
      readSeq: c.readSeq,
      context: c.context,
      ...(c.identity ? { identity: c.identity } : {}),
    }));
    return { items, nextCursor: page.nextCursor };
  });

  app.post('/availability', async (req): Promise<AvailabilityResponse> => {
    const { online } = body(AvailabilityRequest, req.body);
    const siteKey = site(req).siteKey;
    await engine.setOnline(siteKey, online);
    await engine.publish({ kind: 'site', siteKey, ts: opts.now(), event: { type: 'availability', online } });
    return { online };
  });

  app.get('/dead-letters', async (req): Promise<DeadLettersResponse> => ({ items: await engine.listDeadLetters(site(req).siteKey) }));
}

/**
 * A page size from a query: `fallback` when absent, at most `max` (a larger one is cut to `max`),
 * and 0 refused with `BAD_REQUEST` rather than read as some other size.
 */
function queryLimit(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (n < 1) throw new CodedError('BAD_REQUEST', `limit must be between 1 and ${max} (larger values are cut to ${max}).`);
  return Math.min(max, n);
}
