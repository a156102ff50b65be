export { PROTOCOL_VERSION, LIMITS, type Limits } from './limits.js';
export { CLOSE, CLOSE_OF, errorOf, shouldReconnect, type CloseCode, type ClosingErrorCode } from './close-codes.js';
export { ERRORS, ERROR_CODES, errorInfo, isErrorCode, type ErrorCode, type ErrorInfo } from './errors.js';
export { Id, HttpUrl, Seq, Timestamp, Attrs } from './schemas.js';
export * from './messages.js';
export * from './events.js';
export * from './frames.js';
export * from './webhooks.js';
export * from './rest.js';
export * from './backend-frames.js';
export { decode, check, encode, type DecodeResult, type DecodeErrorCode, type RawFrame } from './decode.js';
export { decodeServerFrame } from './decode-server-frame.js';
export { parseServerFrame, isVisitorBody } from './server-guard.js';
export { PublicSiteConfig, WidgetStringsPatch, MAX_STRING_LENGTH, SiteTheme, Trigger } from './site-config.js';
export { MAX_TRIGGERS, MAX_THEME_VALUE, PAGE_ATTR_RE } from './proactive.js';
export { parsePublicSiteConfig, siteConfigPath } from './site-config-guard.js';
export { EN_STRINGS, STRING_KEYS, formatString, localeDir, matchLocale, templateParams, type StringKey, type WidgetStrings } from './strings.js';
export { BUILTIN_STRINGS } from './locales/index.js';
export { ID_RE, HTTP_URL_RE, EMAIL_RE } from './patterns.js';
export { MAX_PAST, PAST_PAGE, PREVIEW_LENGTH } from './past.js';
export { MAX_UPLOAD_TYPES, MAX_UPLOAD_PAIRS, MAX_UPLOAD_VALUE, MIME_PATTERN_RE, mimeAllowed } from './uploads.js';
export { newId } from './new-id.js';
export {
  signWebhook,
  verifyWebhookSignature,
  webhookSecretBytes,
  hmacSha256Hex,
  verifyHmacSha256Hex,
  type WebhookHeaders,
  type WebhookVerifyFailure,
} from './signature.js';
