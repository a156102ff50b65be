import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod/mini';
import {
  HistoryQuery,
  Id,
  LIMITS,
  PostEventRequest,
  PostMessageRequest,
  check,
  type HistoryResponse,
  type LogEntry,
  type PostEventResponse,
  type PostMessageResponse,
} from '@parley/protocol';
import type { SiteConfig } from '../config.js';
import { toMessage, type ConversationService } from '../conversation-service.js';
import type { Conversation, Engine } from '../engine/types.js';
import { httpError } from '../errors.js';
import { takeToken, type Rate, type TokenBucket } from '../token-bucket.js';
import type { RelayMetrics } from './metrics.js';

export interface BackendApiOptions {
  sites: readonly SiteConfig[];
  engine: Engine;
  service: ConversationService;
  metrics: RelayMetrics;
  now: () => number;
  /** Token bucket per site. */
  rateLimit: Rate;
}

const AvailabilityRequest = z.object({ online: z.boolean() });

declare module 'fastify' {
  interface FastifyRequest {
    /** The site whose API secret authenticated this request. */
    parleySite?: SiteConfig;
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The backend REST API under `/v1`: Bearer `apiSecret`, scoped to the secret's site. */
export async function backendApiPlugin(app: FastifyInstance, opts: BackendApiOptions): Promise<void> {
  const { engine, service, metrics } = opts;
  const secrets = opts.sites.map((site) => ({ site, digest: digest(site.apiSecret) }));
  const buckets = new Map<string, TokenBucket>();

  function authenticate(req: FastifyRequest): SiteConfig {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/i.exec(header) : null;
    if (!match) throw httpError('UNAUTHORIZED');
    const given = digest(match[1]!);
    let found: SiteConfig | undefined;
    // Compare against every site in constant time, so timing reveals nothing.
    for (const s of secrets) if (timingSafeEqual(given, s.digest)) found = s.site;
    if (!found) throw httpError('UNAUTHORIZED');
    return found;
  }

  function limit(site: SiteConfig): void {
    const now = opts.now();
    let bucket = buckets.get(site.siteKey);
    if (!bucket) buckets.set(site.siteKey, (bucket = { tokens: opts.rateLimit.burst, at: now }));
    if (!takeToken(bucket, now, opts.rateLimit)) throw httpError('RATE_LIMITED');
  }

  app.addHook('onRequest', async (req) => {
    const site = authenticate(req);
    limit(site);
    req.parleySite = site;
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.restRequests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
  });

  function site(req: FastifyRequest): SiteConfig {
    return req.parleySite!;
  }

  async function conversationOf(req: FastifyRequest): Promise<Conversation> {
    const { id } = req.params as { id: string };
    if (!check(Id, id).ok) throw httpError('NOT_FOUND');
    const conversation = await engine.getConversation(id);
    if (!conversation) throw httpError('NOT_FOUND');
    if (conversation.siteKey !== site(req).siteKey) throw httpError('FORBIDDEN');
    return conversation;
  }

  function body<T>(schema: z.ZodMiniType<T>, value: unknown): T {
    const parsed = check(schema, value);
    if (!parsed.ok) throw httpError('BAD_REQUEST', `The request body is not valid: ${parsed.message}`);
    return parsed.value;
  }

  app.post('/conversations/:id/messages', async (req, reply): Promise<PostMessageResponse> => {
    const conversation = await conversationOf(req);
    const message = body(PostMessageRequest, req.body);
    const result = await service.appendBackendMessage(site(req), conversation.id, message);
    const { entry } = result;
    if (result.duplicate) {
      if (entry.kind !== 'msg' || !sameJson(entry.body, message.body)) throw httpError('ID_CONFLICT');
      return { message: toMessage(entry), duplicate: true };
    }
    reply.code(201);
    return { message: toMessage(entry as Extract<LogEntry, { kind: 'msg' }>), duplicate: false };
  });

  app.post('/conversations/:id/events', async (req): Promise<PostEventResponse> => {
    const conversation = await conversationOf(req);
    const request = body(PostEventRequest, req.body);
    const result = await service.appendEvent(site(req), conversation.id, request.event, request.id);
    if (!result) return { duplicate: false };
    if (result.duplicate && (result.entry.kind !== 'event' || !sameJson(result.entry.event, request.event))) throw httpError('ID_CONFLICT');
    return { seq: result.entry.seq, duplicate: result.duplicate };
  });

  app.get('/conversations/:id/messages', async (req): Promise<HistoryResponse> => {
    const conversation = await conversationOf(req);
    const query = check(HistoryQuery, req.query);
    if (!query.ok) throw httpError('BAD_REQUEST', `The query is not valid: ${query.message}`);
    const after = Number(query.value.after ?? 0);
    const limit = Math.min(LIMITS.maxHistoryPage, Math.max(1, Number(query.value.limit ?? 50)));
    return engine.read(conversation.id, after, limit);
  });

  app.get('/conversations', async (req) => {
    const list = await engine.listConversations(site(req).siteKey, 1000);
    const items = await Promise.all(
      list.map(async (c) => {
        const { lastSeq } = await engine.read(c.id, Number.MAX_SAFE_INTEGER, 0);
        return {
          id: c.id,
          visitorId: c.visitorId,
          createdAt: c.createdAt,
          lastSeq,
          closed: c.closed,
          started: c.started,
          readSeq: c.readSeq,
          context: c.context,
          ...(c.identity ? { identity: c.identity } : {}),
        };
      }),
    );
    return { items };
  });

  app.post('/availability', async (req) => {
    const { online } = body(AvailabilityRequest, req.body);
    const siteKey = site(req).siteKey;
    await engine.setOnline(siteKey, online);
    await engine.publish({ kind: 'site', siteKey, ts: opts.now(), event: { type: 'availability', online } });
    return { online };
  });

  app.get('/dead-letters', async (req) => ({ items: await engine.listDeadLetters(site(req).siteKey) }));
}

/** Structural equality of two JSON values (key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
