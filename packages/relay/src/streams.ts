import type { FastifyBaseLogger } from 'fastify';
import { LIMITS, type LogEntry, type Sender, type StreamRequest, type StreamResponse } from '@parley/protocol';
import type { SiteConfig } from './config.js';
import type { ConversationService } from './conversation-service.js';
import { isWellFormed, toMessage } from './engine/shared.js';
import type { Engine, Retention, StreamEndResult } from './engine/types.js';
import { CodedError } from './errors.js';
import type { RelayMetrics } from './plugins/metrics.js';

/** Who writes a streamed answer when the start names no one. */
const AI_BOT: Sender = { role: 'bot', ai: true };

/** Streams one stall sweep closes at most; the next sweep takes the rest. */
const SWEEP_BATCH = 100;

/** The retention of a conversation whose site left the config: the config's defaults. */
const DEFAULT_RETENTION: Retention = { maxMessages: 1000, maxAgeMs: 7 * 24 * 3600_000 };

export interface StreamsOptions {
  engine: Engine;
  service: ConversationService;
  metrics: RelayMetrics;
  log: FastifyBaseLogger;
  /** Every configured site by key (the stall sweep finds a stream's retention through it). */
  sites: ReadonlyMap<string, SiteConfig>;
  /** A stream with no step for this long is closed as incomplete (`limits.streamStallMs`). */
  stallMs: number;
}

/**
 * Streamed answers, the same over REST and over the backend socket: each step is one engine
 * operation (the engine fans drafts and the finished message out), and a sweep closes the streams
 * that stalled. Steps arrive validated; refusals throw a `CodedError` with a registry code.
 */
export class Streams {
  /** How long a snapshot with no step is kept by a store that expires keys (Redis): a few stall windows. */
  private readonly keepMs: number;
  private sweeping = false;

  constructor(private readonly o: StreamsOptions) {
    this.keepMs = Math.max(60_000, 4 * o.stallMs);
  }

  /** Apply one step of the answer `id` in a conversation of `site` (already checked to be the site's). */
  async step(site: SiteConfig, conversationId: string, id: string, request: StreamRequest): Promise<StreamResponse> {
    const { engine, service, metrics } = this.o;
    const retention = service.retention(site);
    const ref = { conversationId, id };
    switch (request.op) {
      case 'start': {
        const result = found(await engine.startStream({ ...ref, from: request.from ?? AI_BOT, retention, keepMs: this.keepMs }));
        if (result.status === 'ended') return ended(id, result.entry, true);
        if (result.created) metrics.streams.inc({ result: 'started' });
        return { id, offset: result.stream.text.length, done: false, duplicate: !result.created };
      }
      case 'delta': {
        if (!isWellFormed(request.text)) throw new CodedError('BAD_REQUEST', 'The delta text is not well-formed UTF-16 (a lone surrogate): split deltas between characters.');
        const result = found(await engine.appendStream({ ...ref, offset: request.offset, text: request.text, retention, keepMs: this.keepMs }));
        switch (result.status) {
          case 'ok':
            return { id, offset: result.length, done: false, duplicate: !result.appended };
          case 'gap':
            throw new CodedError('STREAM_GAP', `The delta starts at ${request.offset}, past the ${result.length} characters held for ${id}; resend from offset ${result.length}.`);
          case 'too-long':
            throw new CodedError('BAD_REQUEST', `The answer ${id} would pass ${LIMITS.maxTextLength} characters (${result.length} are held); finish it instead.`);
          case 'ended':
            throw new CodedError('STREAM_ENDED');
          case 'not-found':
            throw new CodedError('STREAM_NOT_FOUND');
        }
        break;
      }
      case 'finish':
      case 'abort': {
        const abort = request.op === 'abort';
        const end = abort
          ? { ...ref, retention, abort: true }
          : {
              ...ref,
              retention,
              ...(request.text !== undefined ? { text: request.text } : {}),
              ...(request.sources ? { sources: request.sources } : {}),
              ...(request.quickReplies ? { quickReplies: request.quickReplies } : {}),
            };
        const result = found(await engine.endStream(end));
        if (result.status === 'ended' && !result.duplicate) metrics.streams.inc({ result: abort ? 'aborted' : 'finished' });
        return this.endAnswer(id, result);
      }
    }
  }

  private endAnswer(id: string, result: StreamEndResult): StreamResponse {
    switch (result.status) {
      case 'ended':
        return ended(id, result.entry, result.duplicate);
      case 'not-found':
        throw new CodedError('STREAM_NOT_FOUND');
      case 'empty':
        throw new CodedError('BAD_REQUEST', `Nothing was written for ${id}: finish with a text, or abort.`);
      case 'active':
        throw new Error('a finish or abort answered active');
    }
  }

  /**
   * Close the streams with no step for `stallMs` as incomplete (their text so far enters the log).
   * Every relay instance sweeps; the end is conditional on the stall and idempotent, so concurrent
   * sweeps close each stream once. Returns how many this sweep closed.
   */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let closed = 0;
    try {
      const { engine, sites, service, stallMs } = this.o;
      for (const ref of await engine.stalledStreams(stallMs, SWEEP_BATCH)) {
        const conversation = await engine.getConversation(ref.conversationId);
        const site = conversation && sites.get(conversation.siteKey);
        const retention = site ? service.retention(site) : DEFAULT_RETENTION;
        const result = await engine.endStream({ ...ref, retention, abort: true, stalledMs: stallMs });
        if (result?.status !== 'ended' || result.duplicate) continue;
        closed++;
        this.o.metrics.streams.inc({ result: 'stalled' });
        this.o.log.info({ conversationId: ref.conversationId, messageId: ref.id, stallMs }, 'streamed answer stalled; logged as incomplete');
      }
    } finally {
      this.sweeping = false;
    }
    return closed;
  }
}

/** An engine answer; null (the conversation went away meanwhile) is `NOT_FOUND`. */
function found<T>(result: T | null): T {
  if (result === null) throw new CodedError('NOT_FOUND');
  return result;
}

/** The answer for a stream whose message is in the log (`entry` null: retention trimmed it). */
function ended(id: string, entry: LogEntry | null, duplicate: boolean): StreamResponse {
  if (!entry || entry.kind !== 'msg') return { id, offset: 0, done: true, duplicate };
  const message = toMessage(entry);
  const body = message.body;
  const offset = 'text' in body && typeof body.text === 'string' ? body.text.length : 0;
  return { id, offset, done: true, message, duplicate };
}
