import { CSS } from './styles.js';
import type { Theme } from './options.js';

const TAG = 'parley-chat';
let sheet: CSSStyleSheet | undefined;

/** `<parley-chat>`: the element the widget lives in, isolated by its shadow root. */
export function createHost(theme: Theme): { host: HTMLElement; root: ShadowRoot } {
  if (!customElements.get(TAG)) customElements.define(TAG, class extends HTMLElement {});
  const host = document.createElement(TAG);
  const root = host.attachShadow({ mode: 'open' });
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  root.adoptedStyleSheets = [sheet];
  host.setAttribute('position', theme.position === 'left' ? 'left' : 'right');
  // CSSOM writes, not a style attribute in markup: allowed under a strict CSP.
  const set = (name: string, value: string | number | undefined, unit = '') =>
    value != null && host.style.setProperty(`--parley-${name}`, value + unit);
  set('primary', theme.primary);
  set('offset', theme.offset, typeof theme.offset === 'number' ? 'px' : '');
  set('z-index', theme.zIndex);
  return { host, root };
}
