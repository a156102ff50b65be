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
  type Message,
  type PostEventResponse,
  type PostMessageResponse,
} from '@parley/protocol';
import type { SiteConfig } from '../config.js';
import type { ConversationService } from '../conversation-service.js';
import { toMessage } from '../engine/shared.js';
import type { AppendResult, Conversation, Engine } from '../engine/types.js';
import { httpError } from '../errors.js';
import { sameJson } from '../same-json.js';
import type { Rate } from '../token-bucket.js';
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

  /** The site's REST bucket, shared by every relay instance on the engine. */
  async function limit(site: SiteConfig): Promise<void> {
    if (!(await engine.takeToken(`rest:${site.siteKey}`, opts.rateLimit))) throw httpError('RATE_LIMITED');
  }

  app.addHook('onRequest', async (req) => {
    const site = authenticate(req);
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
  async function conversationOf(req: FastifyRequest): Promise<Conversation> {
    const { id } = req.params as { id: string };
    if (!check(Id, id).ok) throw httpError('NOT_FOUND');
    const conversation = await engine.getConversation(id);
    if (!conversation || conversation.siteKey !== site(req).siteKey) throw httpError('NOT_FOUND');
    return conversation;
  }

  function body<T>(schema: z.ZodMiniType<T>, value: unknown): T {
    const parsed = check(schema, value);
    if (!parsed.ok) throw httpError('BAD_REQUEST', `The request body is not valid: ${parsed.message}`);
    return parsed.value;
  }

  /** An append's result; null means the conversation went away meanwhile (retention). */
  function appended<T extends AppendResult | 'transient'>(result: T | null): T {
    if (!result) throw httpError('NOT_FOUND');
    return result;
  }

  app.post('/conversations/:id/messages', async (req, reply): Promise<PostMessageResponse> => {
    const conversation = await conversationOf(req);
    const message = body(PostMessageRequest, req.body);
    const result = appended(await service.appendBackendMessage(site(req), conversation.id, message));
    const { entry } = result;
    if (result.duplicate) {
      if (entry && (entry.kind !== 'msg' || !sameJson(entry.body, message.body))) throw httpError('ID_CONFLICT');
      // Retention trimmed the entry: answer with what was sent, at its original seq.
      const stored = entry?.kind === 'msg' ? toMessage(entry) : ({ seq: result.seq, id: message.id, ts: result.ts, from: message.from ?? { role: 'bot' }, body: message.body } as Message);
      return { message: stored, duplicate: true };
    }
    reply.code(201);
    return { message: toMessage(entry as Extract<LogEntry, { kind: 'msg' }>), duplicate: false };
  });

  app.post('/conversations/:id/events', async (req): Promise<PostEventResponse> => {
    const conversation = await conversationOf(req);
    const request = body(PostEventRequest, req.body);
    const result = appended(await service.appendEvent(site(req), conversation.id, request.event, request.id));
    if (result === 'transient') return { duplicate: false };
    if (result.duplicate && result.entry && (result.entry.kind !== 'event' || !sameJson(result.entry.event, request.event))) throw httpError('ID_CONFLICT');
    return { seq: result.seq, duplicate: result.duplicate };
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
    const items = list.map((c) => ({
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
