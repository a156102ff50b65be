export { buildApp, REDACT_PATHS, type BuildAppOptions } from './app.js';
export {
  loadConfig,
  parseConfig,
  ConfigError,
  RelayConfig,
  SiteConfig,
  LimitsConfig,
  WebhooksConfig,
  EngineConfig,
  DEFAULT_RETRY_SCHEDULE_MS,
  DEFAULT_SQLITE_PATH,
  type RelayConfigInput,
} from './config.js';
export { MemoryEngine, createMemoryEngine, type MemoryEngineOptions } from './engine/memory.js';
export { SqliteEngine, createSqliteEngine, type SqliteEngineOptions } from './engine/sqlite.js';
export { RedisEngine, createRedisEngine, type RedisEngineOptions } from './engine/redis.js';
export { createEngine } from './engine/create.js';
export { webhookJobId } from './engine/shared.js';
export { conversationTopic, siteTopic } from './engine/types.js';
export type {
  Engine,
  Conversation,
  ConversationIdentity,
  OpenRequest,
  OpenResult,
  MergeResult,
  Retention,
  NewEntry,
  AppendRequest,
  AppendResult,
  FanoutItem,
  TransientItem,
  DraftItem,
  StreamSnapshot,
  StreamRef,
  StreamStartRequest,
  StreamStartResult,
  StreamDeltaRequest,
  StreamDeltaResult,
  StreamEndRequest,
  StreamEndResult,
  FeedbackRequest,
  FeedbackResult,
  WebhookJob,
  ClaimedJob,
  JobError,
} from './engine/types.js';
export { CodedError, errorBody, errorFrame, statusOf } from './errors.js';
export { signVisitorToken, verifyVisitorToken, type VisitorClaims } from './visitor-token.js';
export { createMetrics, type RelayMetrics } from './plugins/metrics.js';
export { jitter } from './webhook-worker.js';
