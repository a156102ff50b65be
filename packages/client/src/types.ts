// The public contract of @parley/client. The widget builds on exactly this surface, and
// merchants who bring their own UI use it alone.
import type {
  Button,
  ConversationEvent,
  ErrorInfo,
  Greeting,
  MessageBody,
  PageContext,
  PastConversation,
  ProductContext,
  Sender,
  SiteTheme,
  Trigger,
  UploadTargetFrame,
  WidgetStringsPatch,
} from '@parley/protocol';

/** Connection lifecycle. `closed` is final until `connect()` is called again. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Delivery status of the visitor's own messages. */
export type MessageStatus = 'sending' | 'sent' | 'read' | 'failed';

/** The visitor's verdict on a bot's answer. */
export type FeedbackValue = 'up' | 'down';

/**
 * A message as the UI shows it. Visitor messages carry a delivery `status`. A bot's answer
 * that is still being written (streamed) is a `draft`: its text grows until the finished
 * message with the same `id` replaces it.
 */
export interface ChatMessage {
  kind: 'msg';
  /** Client id for the visitor's messages (`newId` of @parley/protocol), relay or backend id otherwise. */
  id: string;
  /** Sequence number in the conversation; absent while a visitor message is unacked. */
  seq?: number;
  ts: number;
  from: Sender;
  body: MessageBody;
  status?: MessageStatus;
  /**
   * Still being written: a text `body` that grows as the answer streams in. A draft has no
   * `seq`, is never stored, never counts as unread and never fires `message` or `notify`;
   * the finished message with the same `id` takes its place.
   */
  draft?: true;
  /** A streamed answer that stopped before it finished (aborted or stalled): `body` holds what arrived. */
  incomplete?: true;
  /** The visitor's 👍 (`up`) or 👎 (`down`) on this answer, given with `feedback()`; kept in the stored history. */
  feedback?: FeedbackValue;
}

/** A stored conversation event shown in the timeline (agent joined, closed, …). */
export interface ChatEvent {
  kind: 'event';
  id: string;
  seq: number;
  ts: number;
  event: ConversationEvent;
}

export type TimelineItem = ChatMessage | ChatEvent;

/** The visitor's language, as the site config answers it. */
export interface LangInfo {
  /** The relay's best match of the visitor's locale (`zh-CN` for `zh-TW`, `pt` for `pt-BR`). */
  locale: string;
  dir: 'ltr' | 'rtl';
  strings?: WidgetStringsPatch;
}

/** Everything a UI needs to render, as one immutable snapshot. */
export interface Snapshot {
  state: ConnectionState;
  /**
   * Messages and stored events in sequence order, then unacked visitor messages, then the
   * answers still being written (`draft: true`), in the order they started. Drafts come last
   * because their finished message takes the next seq, after everything logged so far.
   */
  timeline: TimelineItem[];
  /** Messages from others after the visitor's last read, shared across tabs. */
  unread: number;
  /** The site's greeting (from `welcome`, or storage or the site config before it arrives). */
  greeting: Greeting | null;
  /**
   * The visitor's language as the relay matched it (`locale`, `dir`) with the UI strings in it
   * (`strings`, templates over `EN_STRINGS`; absent for plain English), from the site config or
   * storage; null until either has it.
   */
  lang: LangInfo | null;
  siteName: string;
  /** Whether human agents are available; false shows the leave-a-message form. */
  online: boolean;
  /** Who is answering: the agent who joined, or null while the bot serves. */
  agent: Sender | null;
  /** Someone on the other side is typing. */
  typing: Sender | null;
  /** Place in the human queue, while waiting. */
  queue: { position: number; etaSec?: number } | null;
  /** A rating was asked for and not yet given. */
  ratingRequested: { text?: string } | null;
  /** The conversation was closed; `restart()` starts a new one. */
  closed: boolean;
  /** The verified or unverified identity the relay accepted. */
  identity: { userId: string; verified: boolean } | null;
  /** Whether storage is allowed (always true unless `requireConsent`). */
  consented: boolean;
  /**
   * Attachments the site takes, from the site config: the largest file in bytes and the MIME
   * types (or `image/*` patterns); null when it takes none (or the config has not arrived).
   */
  uploads: { maxBytes: number; types: string[] } | null;
  /** The site's look from its config (or, until it arrives, as storage kept it); absent when it sets none. */
  theme?: SiteTheme;
  /** The site's proactive messages from its config (see `Trigger` of @parley/protocol); absent when it has none. */
  triggers?: Trigger[];
}

/** Typed events of a client. */
export interface ClientEvents {
  /** Every connection state transition. */
  state(change: { from: ConnectionState; to: ConnectionState }): void;
  /**
   * A new or updated message (a status change re-emits it). Drafts do not fire it (they
   * change the snapshot, see `change`); their finished message does.
   */
  message(message: ChatMessage): void;
  /** A stored conversation event arrived. */
  event(event: ChatEvent): void;
  /**
   * The unread count changed: told once per task, after `change`, so a UI that marks what it
   * shows as read in its `change` listener keeps it at 0.
   */
  unread(count: number): void;
  typing(typing: { on: boolean; from?: Sender }): void;
  queue(queue: { position: number; etaSec?: number } | null): void;
  agent(change: { agent: Sender | null; joined: boolean }): void;
  availability(availability: { online: boolean }): void;
  /** A message from others arrived while no tab of this site is visible; fires in one tab only. */
  notify(message: ChatMessage): void;
  /** A runtime fault, as `{code, message}` with a code from the registry. */
  error(error: ErrorInfo): void;
  /** Anything in the snapshot changed. Coalesced: fires once per task (microtask), with the latest snapshot. */
  change(snapshot: Snapshot): void;
}

/** The subset of WebSocket the client needs; both the browser's and `ws` fit. */
export interface SocketLike {
  readonly readyState: number;
  readonly bufferedAmount?: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** The subset of Storage the client needs. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface ClientOptions {
  /** The site's public key from the relay config. */
  siteKey: string;
  /** The relay's base URL, `https://chat.shop.example` (`/v1/widget` is appended; http → ws). */
  relayUrl: string;
  /** Socket factory. Defaults to `url => new WebSocket(url)`. */
  createSocket?: (url: string) => SocketLike;
  /** Storage for token, history and outbox. Defaults to localStorage when available; null keeps nothing. */
  storage?: StorageLike | null;
  /** When true nothing is written to storage until `consent()`. */
  requireConsent?: boolean;
  /**
   * The shop's name and greeting to show until the relay's arrive: what a first visit shows
   * while the relay cannot be reached. The site config, the copy of it kept in storage and
   * `welcome` replace them.
   */
  siteName?: string;
  greeting?: Greeting;
  /**
   * BCP 47 tag of the visitor's language: the site config is asked for its greeting and
   * strings in it, and `hello.page.locale` carries it. Defaults to `navigator.language`.
   */
  locale?: string;
  /** Page context sent with `hello`. Defaults to location and document.title in browsers. */
  page?: () => PageContext;
  /** Randomness for backoff jitter (tests inject it). */
  random?: () => number;
  /** Reconnect backoff bounds in ms. Defaults 500 and 20,000. */
  backoff?: { minMs?: number; maxMs?: number };
  /** Heartbeat interval in ms. Default 25,000. */
  pingIntervalMs?: number;
  /** HTTP GET for the site's public config (`prepare()`). Defaults to the global `fetch`. */
  fetch?: (url: string) => Promise<{ json(): Promise<unknown> }>;
}

export interface IdentifyOptions {
  userId: string;
  name?: string;
  email?: string;
  attrs?: Record<string, string | number | boolean | null>;
  /** hex(HMAC-SHA256(identitySecret, userId)), computed on the merchant's server. */
  signature?: string;
}

export interface ParleyClient {
  /** Open the connection (idempotent). */
  connect(): void;
  /**
   * Get ready without costing a socket for a visitor who may never chat. A returning visitor
   * (a conversation in storage) or unsent messages connect at once. A new visitor gets the
   * site's public config over HTTP instead (greeting, site name, online: the snapshot shows
   * them with state `idle`), and the socket opens on intent: the first message sent, or
   * `connect()`.
   */
  prepare(): void;
  /** Close the connection for good (until `connect()` again). */
  disconnect(): void;
  /** Send a text message; shows at once as "sending". */
  send(text: string): ChatMessage;
  /** The visitor tapped a button. */
  postback(button: Button): ChatMessage;
  /**
   * 👍 (`up`) or 👎 (`down`) on a bot's answer `messageId`, with an optional comment (cut to
   * the protocol's comment limit). Records the choice on the message at once (in the
   * snapshot and the stored history) and sends one `feedback` frame, held until the
   * connection is open. A later call for the same message (a changed mind, a comment)
   * supersedes the earlier one; while offline only the latest is sent.
   */
  feedback(messageId: string, value: FeedbackValue, comment?: string): void;
  /** Rate the conversation 1–5 with an optional comment. */
  rate(score: number, comment?: string): ChatMessage;
  /** Ask for a human agent: a postback of `HANDOFF_VALUE`, shown with `label` (default "Talk to a human"). */
  requestHuman(label?: string): ChatMessage;
  /** Leave a message while the site is offline. */
  leaveMessage(email: string, text: string): ChatMessage;
  /**
   * Ask where to upload a file the visitor picked (`mime` as the browser reports it): resolves
   * with the target the site's backend gave (`url`, `method`, `fields`, `headers`, `fileUrl`,
   * and the `maxBytes` and `types` it takes), or rejects with `{code, message}` (`UPLOAD_TOO_LARGE`,
   * `UPLOAD_TYPE`, `UPLOAD_REFUSED`, `UPLOAD_UNAVAILABLE`: at once when the connection is not
   * open, or when it drops before the answer). Upload there, then call `sendFile`.
   */
  requestUpload(file: { name: string; size: number; mime: string }): Promise<UploadTargetFrame>;
  /** Send a file the visitor uploaded, by its URL (`fileUrl` of the upload target). */
  sendFile(file: { name: string; size: number; mime: string; url: string }): ChatMessage;
  /** Resend a failed message. */
  retry(id: string): void;
  /** Update the page and product the visitor is looking at. */
  setContext(context: { url?: string; title?: string; product?: ProductContext }): void;
  /** Tell the relay who the visitor is (reconnects to pick up a verified user's conversation). */
  identify(identity: IdentifyOptions): void;
  /** Tell the relay whether the visitor is typing. */
  typing(on: boolean): void;
  /** Mark everything shown as read; resets unread in every tab. */
  markRead(): void;
  /** Allow storage when `requireConsent` is set; writes what is held in memory. */
  consent(): void;
  /** Start a new conversation after the last one was closed. */
  restart(): void;
  /**
   * The visitor's earlier conversations on this site, newest first (at most 20): a verified
   * user's from every device, else this browser's visitor's; not the one on screen, and only
   * what the relay's retention still holds. Each has its `id`, `createdAt`, whether it was
   * `closed`, its `lastSeq` and a `preview` (the start of its last message, when kept). Rejects
   * with `{code, message}`: `NOT_READY` while the connection is not open or when it drops
   * before the answer.
   */
  pastConversations(): Promise<PastConversation[]>;
  /**
   * Every entry the relay still holds of the past conversation `id` (from `pastConversations`),
   * messages and stored events in sequence order, read-only: the snapshot does not change.
   * Rejects with `{code, message}`: `NOT_FOUND` for an id that is not one of the visitor's,
   * `NOT_READY` as `pastConversations`.
   */
  openPast(id: string): Promise<TimelineItem[]>;
  /** Forget everything: disconnect and clear storage (call on shopper log-out). */
  shutdown(): void;
  /** The current snapshot. */
  getSnapshot(): Snapshot;
  /** Subscribe to an event; returns the unsubscribe function. */
  on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void;
}
