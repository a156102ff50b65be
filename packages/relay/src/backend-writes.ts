import { Id, check, type LogEntry, type Message, type PostEventRequest, type PostEventResponse, type PostMessageRequest, type PostMessageResponse } from '@parley/protocol';
import type { SiteConfig } from './config.js';
import type { ConversationService } from './conversation-service.js';
import { toMessage } from './engine/shared.js';
import type { AppendResult, Conversation, Engine } from './engine/types.js';
import { CodedError } from './errors.js';
import { sameJson } from './same-json.js';

// What a backend writes to a conversation, the same over REST and over the backend socket.
// Requests arrive validated; failures throw a `CodedError` with a registry code.

/** A site's conversation; another site's answers `NOT_FOUND` like an unknown one, so ids cannot be probed. */
export async function conversationOfSite(engine: Engine, site: SiteConfig, id: string): Promise<Conversation> {
  if (!check(Id, id).ok) throw new CodedError('NOT_FOUND');
  const conversation = await engine.getConversation(id);
  if (!conversation || conversation.siteKey !== site.siteKey) throw new CodedError('NOT_FOUND');
  return conversation;
}

/** An append's result; null means the conversation went away meanwhile (retention). */
function appended<T extends AppendResult | 'transient'>(result: T | null): T {
  if (!result) throw new CodedError('NOT_FOUND');
  return result;
}

/**
 * Append a backend message, idempotent on its id: the same id and body again answer the original
 * (`duplicate: true`, same seq); the same id with another body throws `ID_CONFLICT`.
 */
export async function postMessage(service: ConversationService, site: SiteConfig, conversationId: string, message: PostMessageRequest): Promise<PostMessageResponse> {
  const result = appended(await service.appendBackendMessage(site, conversationId, message));
  const { entry } = result;
  if (result.duplicate) {
    if (entry && (entry.kind !== 'msg' || !sameJson(entry.body, message.body))) throw new CodedError('ID_CONFLICT');
    // Retention trimmed the entry: answer with what was sent, at its original seq.
    const stored = entry?.kind === 'msg' ? toMessage(entry) : ({ seq: result.seq, id: message.id, ts: result.ts, from: message.from ?? { role: 'bot' }, body: message.body } as Message);
    return { message: stored, duplicate: true };
  }
  return { message: toMessage(entry as Extract<LogEntry, { kind: 'msg' }>), duplicate: false };
}

/** Store an event (idempotent on `id`), or only push it when it is transient (no seq). */
export async function postEvent(service: ConversationService, site: SiteConfig, conversationId: string, request: PostEventRequest): Promise<PostEventResponse> {
  const result = appended(await service.appendEvent(site, conversationId, request.event, request.id));
  if (result === 'transient') return { duplicate: false };
  if (result.duplicate && result.entry && (result.entry.kind !== 'event' || !sameJson(result.entry.event, request.event))) throw new CodedError('ID_CONFLICT');
  return { seq: result.seq, duplicate: result.duplicate };
}
