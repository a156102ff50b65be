import type { ParleyClient, Snapshot } from '@parley/client';
import type { Strings } from './locales/en.js';

/** What the widget itself remembers between renders (the rest lives in the client's snapshot). */
export interface UiState {
  open: boolean;
  /** The composer's text. */
  draft: string;
  /** Stars picked in the rating prompt, 0 for none yet. */
  score: number;
  comment: string;
  /** The leave-a-message form was sent. */
  left: boolean;
  /** The answer whose 👎 comment box is open ('' for none). */
  fb: string;
}

/** Everything a component renders from, passed down as one prop. */
export interface View {
  s: Snapshot;
  ui: UiState;
  t: Strings;
  c: ParleyClient;
  /** A message time as the locale writes it ("9:30 AM"). */
  time(ts: number): string;
  /** Update the UI state and render again. */
  set(patch: Partial<UiState>): void;
  close(): void;
  toggle(): void;
}
