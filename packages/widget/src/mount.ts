/// <reference path="./env.d.ts" />
import { createClient, type ParleyClient } from '@parley/client';
import { createElement, render } from 'preact';
import { App } from './app.js';
import { checkOptions } from './dev-checks.js';
import { createHost } from './host.js';
import { isRtl, pickStrings } from './locale.js';
import { beep, primeAudio, titleFlasher } from './notify.js';
import type { MountOptions, WidgetHandle } from './options.js';
import type { UiState, View } from './view.js';
import { trackViewport } from './viewport.js';

/**
 * Put the chat on the page: appends `<parley-chat>` (the launcher alone until opened) and returns
 * its handle. A returning visitor connects at once; a new one on opening the panel or sending.
 */
export function mount(options: MountOptions): WidgetHandle {
  if (import.meta.env.DEV) checkOptions(options);
  const lang = options.locale || navigator.language || 'en';
  const dir = options.dir || (isRtl(lang) ? 'rtl' : 'ltr');
  const t = pickStrings(lang);
  const own = !options.client;
  const c: ParleyClient = options.client || createClient(options);
  const { host, root } = createHost({ position: dir === 'rtl' ? 'left' : 'right', ...options.theme });
  // Before <body> exists (a bundle run from <head>), the root element hosts the widget.
  (options.container || document.body || document.documentElement).append(host);

  const ui: UiState = { open: false, draft: '', score: 0, comment: '', left: false, fb: '' };
  const listeners: Record<string, Set<() => void>> = { open: new Set(), close: new Set() };
  const flasher = titleFlasher(t.notify);
  const untrack = trackViewport(host);
  // Built on first use (the panel's first time): constructing one takes tens of ms.
  let clock: Intl.DateTimeFormat | undefined;
  const time = (ts: number) => (clock ||= new Intl.DateTimeFormat(lang, { hour: 'numeric', minute: '2-digit' })).format(ts);
  let shown = 0;

  const draw = () => {
    const s = c.getSnapshot();
    let log = root.querySelector('.m');
    // Follow the conversation as it grows (a streamed answer too) unless the visitor scrolled up to read.
    const end = !log || log.scrollTop + log.clientHeight > log.scrollHeight - 30;
    render(createElement(App, { v: view(s), dir, lang }), root);
    log = root.querySelector('.m');
    if (log && (end || s.timeline.length !== shown)) log.scrollTop = log.scrollHeight;
    shown = log ? s.timeline.length : 0;
    // Seen while open: the client resets unread (in every tab) and emits a change.
    if (ui.open && s.unread && !document.hidden) c.markRead();
  };
  const view = (s: View['s']): View => ({
    s,
    ui,
    t,
    c,
    time,
    set(patch) {
      Object.assign(ui, patch);
      draw();
    },
    close,
    toggle,
  });
  function setOpen(open: boolean, focus: boolean) {
    if (ui.open === open) return;
    ui.open = open;
    if (open) {
      // Opening is intent: a new visitor's socket opens now (see `prepare()` below).
      c.connect();
      if (options.sound) primeAudio();
    }
    draw();
    if (focus) {
      const $ = (sel: string) => root.querySelector<HTMLElement>(sel);
      // On phones, focusing a text box would throw up the keyboard over the conversation.
      const box = matchMedia('(max-width:640px)').matches ? null : $('.f textarea,.o input');
      (open ? box || $('.cl') : $('.l'))?.focus();
    }
    listeners[open ? 'open' : 'close']!.forEach((fn) => fn());
  }
  function close() {
    setOpen(false, true);
  }
  function toggle() {
    setOpen(!ui.open, true);
  }

  // Coming back to the tab with the panel open marks what is now seen as read.
  document.addEventListener('visibilitychange', draw);
  const offs = [
    () => document.removeEventListener('visibilitychange', draw),
    c.on('change', draw),
    c.on('notify', () => {
      flasher.flash();
      if (options.sound) beep();
    }),
  ];
  draw();
  // A new visitor costs no socket until intent; a returning one connects for what is new. In a
  // task of its own, so the request (or socket) and the first render make no long task together.
  const prepare = setTimeout(() => c.prepare());
  if (options.open) setOpen(true, false);

  const destroy = () => {
    clearTimeout(prepare);
    offs.forEach((off) => off());
    flasher.stop();
    untrack();
    render(null, root);
    host.remove();
    if (own) c.disconnect();
  };
  return {
    open: () => setOpen(true, true),
    close,
    toggle,
    identify: (identity) => c.identify(identity),
    product: (product) => c.setContext({ product }),
    context: (page) => c.setContext(page),
    send: (text) => void c.send(text),
    on: ((event: string, fn: () => void) => {
      const set = listeners[event];
      if (!set) return c.on(event as 'change', fn);
      set.add(fn);
      return () => set.delete(fn);
    }) as WidgetHandle['on'],
    consent: () => c.consent(),
    shutdown() {
      c.shutdown();
      destroy();
    },
    destroy,
  };
}
