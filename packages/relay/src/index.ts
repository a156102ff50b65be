export { buildApp, REDACT_PATHS, type BuildAppOptions } from './app.js';
export {
  loadConfig,
  parseConfig,
  ConfigError,
  RelayConfig,
  SiteConfig,
  LimitsConfig,
  WebhooksConfig,
  DEFAULT_RETRY_SCHEDULE_MS,
  type RelayConfigInput,
} from './config.js';
export { MemoryEngine, createMemoryEngine, type MemoryEngineOptions } from './engine/memory.js';
export type {
  Engine,
  Conversation,
  ConversationIdentity,
  ConversationPatch,
  Retention,
  NewEntry,
  AppendResult,
  FanoutItem,
  WebhookJob,
} from './engine/types.js';
export { RelayError, httpError, errorBody, errorFrame, statusOf } from './errors.js';
export { signVisitorToken, verifyVisitorToken, type VisitorClaims } from './visitor-token.js';
export { createMetrics, type RelayMetrics } from './plugins/metrics.js';
export { jitter } from './webhook-worker.js';
