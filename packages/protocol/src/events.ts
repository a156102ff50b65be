import { z } from 'zod/mini';
import { LIMITS } from './limits.js';
import { Sender } from './messages.js';
import { Seq, text } from './schemas.js';

/** Someone is typing (`on: true`) or stopped. Transient: never stored. */
export const TypingEvent = z.object({ type: z.literal('typing'), on: z.boolean(), from: z.optional(Sender) });
/** The other side has read everything up to `seq`. Transient: never stored. */
export const ReadEvent = z.object({ type: z.literal('read'), seq: Seq, from: z.optional(Sender) });
/** Place in the human queue: 1 means "next". */
export const QueueEvent = z.object({
  type: z.literal('queue'),
  position: z.number().check(z.int(), z.gte(0), z.lte(100_000)),
  etaSec: z.optional(z.number().check(z.int(), z.gte(0))),
});
export const AgentJoinedEvent = z.object({ type: z.literal('agent_joined'), agent: Sender });
export const AgentLeftEvent = z.object({ type: z.literal('agent_left'), agent: Sender });
/** A handoff to a human was requested by the visitor or bot, or accepted by an agent. */
export const HandoffEvent = z.object({ type: z.literal('handoff'), state: z.enum(['requested', 'accepted']) });
/** Ask the visitor to rate the conversation. */
export const RatingRequestEvent = z.object({ type: z.literal('rating_request'), text: z.optional(text(LIMITS.maxTextLength)) });
/** The site's agents went online or offline (offline shows the leave-a-message form). */
export const AvailabilityEvent = z.object({ type: z.literal('availability'), online: z.boolean() });
/** The conversation ended; the visitor may start a new one. */
export const ClosedEvent = z.object({ type: z.literal('closed'), reason: z.optional(text(LIMITS.maxShortLength)) });

/** Every conversation event. */
export const ConversationEvent = z.discriminatedUnion('type', [
  TypingEvent,
  ReadEvent,
  QueueEvent,
  AgentJoinedEvent,
  AgentLeftEvent,
  HandoffEvent,
  RatingRequestEvent,
  AvailabilityEvent,
  ClosedEvent,
]);
export type ConversationEvent = z.infer<typeof ConversationEvent>;
export type EventType = ConversationEvent['type'];

/** Events that are pushed but never stored in the log nor replayed. */
export const TRANSIENT_EVENTS: readonly EventType[] = ['typing', 'read', 'availability'];

/** True when an event of this type is stored in the log with a sequence number. */
export function isStoredEvent(type: EventType): boolean {
  return !TRANSIENT_EVENTS.includes(type);
}
