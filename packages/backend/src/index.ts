export {
  verifyWebhook,
  verifyWebhookOrThrow,
  verifyWebhooks,
  type HeadersLike,
  type RawBody,
  type VerifyWebhookOptions,
  type VerifyWebhookResult,
  type VerifyWebhooksResult,
} from './verify-webhook.js';
export {
  isEventType,
  hasMessage,
  bodyOf,
  type WebhookEventOf,
  type MessageWebhookEvent,
  type FeedbackWebhookEvent,
  type IdentifiedWebhookEvent,
  type ActivityWebhookEvent,
  type UploadRequestedEvent,
} from './webhook-events.js';
export {
  createRelayClient,
  type RelayClient,
  type RelayClientOptions,
  type ConversationSummary,
  type ConversationPage,
  type ListConversationsOptions,
  type VisitorIdentity,
  type HistoryOptions,
} from './relay-client.js';
export { BACKEND_ERRORS, BACKEND_ERROR_CODES, RelayError, WebhookError, type BackendErrorCode, type WebhookErrorCode } from './errors.js';
export { signIdentity } from './sign-identity.js';
export {
  connectRelay,
  backendSocketUrl,
  type ConnectRelayOptions,
  type RelayConnection,
  type RelayConnectionEvents,
  type ConnectionState,
  type EventReply,
  type WriteResult,
} from './connect-relay.js';
export { type StreamMessageOptions, type StreamResult } from './stream-message.js';
export { backoff } from './backoff.js';
export { createDedupe, memoryDedupeStore, type Dedupe, type DedupeOptions, type DedupeOutcome, type DedupeState, type DedupeStore, type MemoryDedupeStoreOptions } from './dedupe.js';
export { newId } from './new-id.js';
export {
  HANDOFF_VALUE,
  WEBHOOK_EVENT_TYPES,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookReply,
  type WebhookBatch,
  type WebhookBatchReply,
  type UploadTarget,
  type OutgoingMessage,
  type PostMessageRequest,
  type PostMessageResponse,
  type PostEventResponse,
  type HistoryResponse,
  type LogEntry,
  type DeadLetter,
  type ConversationEvent,
  type MessageBody,
  type BackendBody,
  type Message,
  type Sender,
  type Source,
  type Button,
  type StreamRequest,
  type StreamResponse,
  type VisitorContext,
} from '@parley/protocol';
