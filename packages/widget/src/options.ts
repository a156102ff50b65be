import type { ClientEvents, ClientOptions, IdentifyOptions, ParleyClient } from '@parley/client';
import type { ProductContext } from '@parley/protocol';

/** Look of the widget. Colours and sizes become CSS custom properties on `<parley-chat>`. */
export interface Theme {
  /** Brand colour of the launcher, header and visitor bubbles; white text sits on it. Default `#1d4ed8`. */
  primary?: string;
  /** Which bottom corner. Default `right` (`left` for right-to-left pages). */
  position?: 'left' | 'right';
  /** Distance from the corner: a number in px or any CSS length. Default 20px. */
  offset?: number | string;
  /** Stacking order. Default 2147483647, the highest there is: the widget is appended last, so it wins ties. */
  zIndex?: number;
}

export interface MountOptions extends ClientOptions {
  /** BCP 47 tag for strings and times. Defaults to `navigator.language`. */
  locale?: string;
  /** Text direction. Defaults to `rtl` for Arabic, Hebrew, Persian, Urdu; else `ltr`. */
  dir?: 'ltr' | 'rtl';
  theme?: Theme;
  /** Open the panel at once. */
  open?: boolean;
  /** Play a short beep when a message arrives while the page is hidden. */
  sound?: boolean;
  /** Where `<parley-chat>` is appended. Default `document.body`. */
  container?: Element;
  /** A client to use instead of creating one from these options (it is not disconnected on destroy). */
  client?: ParleyClient;
}

/** Widget events on top of the client's. */
export interface WidgetEvents extends ClientEvents {
  /** The panel opened. */
  open(): void;
  /** The panel closed. */
  close(): void;
}

/** What `mount()` returns. */
export interface WidgetHandle {
  open(): void;
  close(): void;
  toggle(): void;
  /** Tell the relay who the visitor is (see `ParleyClient.identify`). */
  identify(identity: IdentifyOptions): void;
  /** The product on screen, for the agent's side panel. */
  product(card: ProductContext): void;
  /** The page the visitor is on (the loader calls this on SPA route changes). */
  context(page: { url?: string; title?: string }): void;
  /** Send a text message as the visitor. */
  send(text: string): void;
  /** Subscribe to a client event or to `open`/`close`; returns the unsubscribe function. */
  on<E extends keyof WidgetEvents>(event: E, fn: WidgetEvents[E]): () => void;
  /** Allow storage when `requireConsent` is set. */
  consent(): void;
  /** Forget the visitor (clear storage, disconnect) and remove the widget; call on log-out. */
  shutdown(): void;
  /** Remove the widget from the page. */
  destroy(): void;
}
