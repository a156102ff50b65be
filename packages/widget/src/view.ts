import type { ParleyClient, Snapshot, TimelineItem } from '@parley/client';
import type { Greeting, PastConversation, WidgetStrings } from '@parley/protocol';

/** What the widget itself remembers between renders (the rest lives in the client's snapshot). */
export interface UiState {
  open: boolean;
  /** The composer's text. */
  draft: string;
  /** Stars picked in the rating prompt, 0 for none yet. */
  score: number;
  comment: string;
  /** A message was left with the leave-a-message form. */
  left: boolean;
  /** The answer whose 👎 comment box is open ('' for none). */
  fb: string;
  /** Connecting has taken a few seconds: the offline notice shows. */
  late?: boolean;
  /** Above the composer: the name of the file being uploaded, or why the last one was not sent ('' for none). */
  note?: string;
  /** How much of the file being uploaded went, 0–1 (undefined when none is). */
  p?: number;
  /**
   * The bubble over the closed launcher (undefined when none shows): a proactive message (a
   * trigger's, or one given to `show()`), or a message that arrived while the panel was closed.
   */
  b?: Greeting;
  /** The proactive message last shown: the panel opens on it instead of the greeting. */
  g?: Greeting;
  /**
   * Past conversations in place of the chat (past.tsx; undefined while the chat shows): their
   * list `l` once it arrived, the one open `o`, and its entries `r` once they arrived.
   */
  past?: { l?: PastConversation[]; o?: PastConversation; r?: TimelineItem[] };
}

/** Everything a component renders from, passed down as one prop. */
export interface View {
  s: Snapshot;
  ui: UiState;
  /** The strings in the visitor's language; a template goes through `f`. */
  t: WidgetStrings;
  /** Fill a template of `t`: `v.f(t.typing, { name })`. */
  f(template: string, params: Record<string, string | number>): string;
  c: ParleyClient;
  /** A message time as the locale writes it ("9:30 AM"). */
  time(ts: number): string;
  /** Update the UI state and render again. */
  set(patch: Partial<UiState>): void;
  close(): void;
  toggle(): void;
  /**
   * Focus where the visitor goes on (the composer, the leave-a-message form's first field, or
   * "Start a new conversation") and return it; on a phone only after a key press (`key`), since
   * a tap would throw up the on-screen keyboard over the conversation.
   */
  compose(key?: boolean): HTMLElement | null | false;
}
