import type { ClientEvents, ClientOptions, IdentifyOptions, ParleyClient } from '@parley/client';
import type { Button, ProductContext } from '@parley/protocol';

/** Look of the widget. Colours and sizes become CSS custom properties on `<parley-chat>`. */
export interface Theme {
  /** Brand colour of the launcher, header and visitor bubbles; white text sits on it. Default `#1d4ed8`. */
  primary?: string;
  /** Which bottom corner. Default `right` (`left` for right-to-left pages). */
  position?: 'left' | 'right';
  /**
   * Distance from the corner: a number in px or any CSS length, or `{ x, y }` for the side and
   * the bottom apart (to clear a shop's own bottom bar, say). Default 20px; 12px on screens
   * narrower than 640px, where the launcher is 48px instead of 56px.
   */
  offset?: number | string | { x?: number | string; y?: number | string };
  /** Stacking order. Default 2147483647, the highest there is: the widget is appended last, so it wins ties. */
  zIndex?: number;
}

export interface MountOptions extends ClientOptions {
  /**
   * BCP 47 tag of the visitor's language, for strings, greeting and times. Defaults to
   * `navigator.language`. The widget bundles English; the relay sends the other languages'
   * strings with the site config.
   */
  locale?: string;
  /** Text direction. Defaults to that of the locale the relay matched (`rtl` for Arabic, Hebrew, Persian, Urdu); else `ltr`. */
  dir?: 'ltr' | 'rtl';
  theme?: Theme;
  /** Open the panel at once. */
  open?: boolean;
  /**
   * Play a short beep when a message from the other side arrives while the page is hidden, or
   * while the panel is closed (as it shows in the bubble). Never for a proactive message. Off by
   * default; browsers allow it only once the visitor has clicked or typed on the page.
   */
  sound?: boolean;
  /** Where `<parley-chat>` is appended. Default `document.body`. */
  container?: Element;
  /** A client to use instead of creating one from these options (it is not disconnected on destroy). */
  client?: ParleyClient;
}

/** Widget events on top of the client's. */
export interface WidgetEvents extends ClientEvents {
  /**
   * The widget is on the page and takes commands: fires once, in the task after `mount()`. A
   * listener added later is called at once.
   */
  ready(): void;
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
  /**
   * Show a proactive message in the bubble over the closed launcher (nothing while the panel is
   * open). No socket opens for it: a tap on its text opens the panel on it, a tap on a quick reply
   * opens the panel and sends that reply as the visitor's postback.
   */
  show(message: { text: string; quickReplies?: Button[] }): void;
  /** Subscribe to a client event or to `ready`/`open`/`close`; returns the unsubscribe function. */
  on<E extends keyof WidgetEvents>(event: E, fn: WidgetEvents[E]): () => void;
  /** Allow storage when `requireConsent` is set. */
  consent(): void;
  /** Forget the visitor (clear storage, disconnect) and remove the widget; call on log-out. */
  shutdown(): void;
  /** Remove the widget from the page. */
  destroy(): void;
}
