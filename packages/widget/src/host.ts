import { CSS } from './styles.js';
import type { Theme } from './options.js';

const TAG = 'parley-chat';
let sheet: CSSStyleSheet | undefined;
let css = CSS;

/** Add rules to the stylesheet every widget on the page shares: the extras' own (lazy.ts). */
export function addStyles(more: string): void {
  css += more;
  sheet?.replaceSync(css);
}

/** `<parley-chat>`: the element the widget lives in, isolated by its shadow root. */
export function createHost(theme: Theme): { host: HTMLElement; root: ShadowRoot } {
  if (!customElements.get(TAG)) customElements.define(TAG, class extends HTMLElement {});
  const host = document.createElement(TAG);
  const root = host.attachShadow({ mode: 'open' });
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
  }
  root.adoptedStyleSheets = [sheet];
  setTheme(host, theme);
  return { host, root };
}

/** Apply `theme` to `<parley-chat>`: at mount, and again when the site's own arrives with its config. */
export function setTheme(host: HTMLElement, theme: Theme): void {
  host.setAttribute('position', theme.position === 'left' ? 'left' : 'right');
  // CSSOM writes, not a style attribute in markup: allowed under a strict CSP.
  // A number is in px, except the z-index.
  const set = (name: string, value: string | number | undefined, unit = typeof value === 'number' ? 'px' : '') =>
    value != null && host.style.setProperty(`--parley-${name}`, value + unit);
  const { offset } = theme;
  set('primary', theme.primary);
  if (typeof offset === 'object') {
    set('offset-x', offset?.x);
    set('offset-y', offset?.y);
  } else set('offset', offset);
  set('z-index', theme.zIndex, '');
}
