/// <reference path="./env.d.ts" />
import { createClient, type ParleyClient } from '@parley/client';
import { createElement, render } from 'preact';
import { App } from './app.js';
import { checkOptions } from './dev-checks.js';
import { createHost, setTheme } from './host.js';
import { formatString, localeDir, type Button, type Greeting } from '@parley/protocol';
import { loaded, withExtras } from './lazy.js';
import { pickStrings } from './locale.js';
import { beep, primeAudio } from './notify.js';
import type { MountOptions, WidgetHandle } from './options.js';
import { loadTriggers } from './triggers-import.js';
import type { UiState, View } from './view.js';
import { trackViewport } from './viewport.js';

/**
 * Put the chat on the page: appends `<parley-chat>` (the launcher alone until opened) and returns
 * its handle. A returning visitor connects at once; a new one on opening the panel or sending.
 */
export function mount(options: MountOptions): WidgetHandle {
  if (import.meta.env.DEV) checkOptions(options);
  const lang = options.locale || navigator.language || 'en';
  const own = !options.client;
  const c: ParleyClient = options.client || createClient(options);
  // The visitor's language as the relay matched it (the site config, or storage), else as asked.
  const dirOf = (s: View['s']) => options.dir || s.lang?.dir || localeDir(lang);
  // The site's theme (from its config, or kept from an earlier page) under the page's own.
  let theme: View['s']['theme'];
  const themed = (s: View['s']) => ({ position: dirOf(s) === 'rtl' ? ('left' as const) : ('right' as const), ...(theme = s.theme), ...options.theme });
  const { host, root } = createHost(themed(c.getSnapshot()));
  // Before <body> exists (a bundle run from <head>), the root element hosts the widget.
  (options.container || document.body || document.documentElement).append(host);

  const ui: UiState = { open: false, draft: '', score: 0, comment: '', left: false, fb: '' };
  const listeners: Record<string, Set<() => void>> = { open: new Set(), close: new Set(), ready: new Set() };
  let ready = false;
  let slow: ReturnType<typeof setTimeout> | undefined;
  // Every DOM listener goes with `stop.abort()` on destroy.
  const stop = new AbortController();
  const on = { signal: stop.signal };
  trackViewport(host, on);
  // Built on first use (the panel's first time): constructing one takes tens of ms.
  let clock: Intl.DateTimeFormat | undefined;
  const time = (ts: number) => (clock ||= new Intl.DateTimeFormat(lang, { hour: 'numeric', minute: '2-digit' })).format(ts);
  let shown = 0;

  /** Proactive triggers, once the site config has some: their code loads then. */
  let triggers: Promise<void> | undefined;
  /**
   * Put `b` in the bubble over the closed launcher (not while the panel is open). `proactive`: the
   * panel then opens on it instead of the greeting; 2, a trigger's, never replaces a bubble showing.
   * A trigger that shows is intent (DESIGN.md): the socket opens, so an answer is instant; the relay
   * still stores nothing until the visitor acts.
   */
  const bubble = (b: Greeting, proactive?: 1 | 2) =>
    !ui.open && !(proactive == 2 && ui.b) && ((ui.b = b), proactive && (ui.g = b), proactive == 2 && c.connect(), draw(), true);

  const draw = () => {
    // Seen while open: read before it is drawn, so neither the badge nor `unread` ever shows it
    // (the client resets unread in every tab).
    if (!document.hidden) {
      loaded()?.unflash();
      if (ui.open && c.getSnapshot().unread) c.markRead();
    }
    const s = c.getSnapshot();
    if (s.theme !== theme) setTheme(host, themed(s));
    const list = s.triggers;
    triggers ||= list && loadTriggers().then((m) => m.triggers(list, bubble, options, c, stop.signal), () => {});
    // Connecting shows "Connecting…"; the relay still unreachable a few seconds later (or the
    // browser offline), the offline notice.
    if (/ing$/.test(s.state)) {
      ui.late ||= !navigator.onLine;
      slow ||= setTimeout(() => {
        ui.late = true;
        draw();
      }, 4000);
    } else {
      clearTimeout(slow);
      slow = ui.late = undefined;
    }
    let log = root.querySelector('.m');
    // Follow the conversation as it grows (a streamed answer too) unless the visitor scrolled up to read.
    const end = !log || log.scrollTop + log.clientHeight > log.scrollHeight - 30;
    render(createElement(App, { v: view(s), dir: dirOf(s), lang: s.lang?.locale || lang }), root);
    log = root.querySelector('.m');
    if (log && (end || s.timeline.length !== shown)) log.scrollTop = log.scrollHeight;
    shown = log ? s.timeline.length : 0;
  };
  const view = (s: View['s']): View => ({
    s,
    ui,
    t: pickStrings(s.lang),
    f: formatString,
    c,
    time,
    set(patch) {
      Object.assign(ui, patch);
      draw();
    },
    close,
    toggle,
    compose,
  });
  function compose(key?: boolean) {
    const box = (key || !matchMedia('(max-width:640px)').matches) && root.querySelector<HTMLElement>('.f textarea,.o input,.o .k');
    box && box.focus();
    return box;
  }
  function setOpen(open: boolean, focus: boolean) {
    if (ui.open === open) return;
    ui.open = open;
    if (open) {
      ui.b = undefined;
      // Opening is intent: a new visitor's socket opens now (see `prepare()` below).
      c.connect();
      if (options.sound) primeAudio();
    }
    draw();
    if (focus) (open ? compose() || root.querySelector<HTMLElement>('.cl') : root.querySelector<HTMLElement>('.l'))?.focus();
    listeners[open ? 'open' : 'close']!.forEach((fn) => fn());
  }
  function close() {
    setOpen(false, true);
  }
  function toggle() {
    setOpen(!ui.open, true);
  }

  // Coming back to the tab stops the title flashing and, with the panel open, marks what is now seen as read.
  document.addEventListener('visibilitychange', draw, on);
  const offs = [
    c.on('change', draw),
    c.on('notify', () => {
      const text = pickStrings(c.getSnapshot().lang).notify;
      // Not once destroyed meanwhile: nothing would stop the flashing.
      void withExtras((x) => stop.signal.aborted || x.flash(text));
      if (options.sound) beep();
    }),
    // A message from the other side while the panel is closed shows in the bubble too, not only as a
    // badge (with a beep if the page is visible: a hidden one had its `notify`).
    c.on('message', ({ from, body }) => {
      const { text, replies } = body as { text?: string; replies?: Button[] };
      if (from.role !== 'visitor' && text && bubble({ text, quickReplies: replies || [] }) && options.sound) beep();
    }),
  ];
  draw();
  // A new visitor costs no socket until intent; a returning one connects for what is new. In a
  // task of its own, so the request (or socket) and the first render make no long task together.
  const prepare = setTimeout(() => {
    c.prepare();
    ready = true;
    listeners.ready!.forEach((fn) => fn());
  });
  if (options.open) setOpen(true, false);

  const destroy = () => {
    clearTimeout(prepare);
    clearTimeout(slow);
    offs.forEach((off) => off());
    loaded()?.unflash();
    stop.abort();
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
    show: (m) => void bubble({ text: m.text, quickReplies: m.quickReplies || [] }, 1),
    on: ((event: string, fn: () => void) => {
      const set = listeners[event];
      if (!set) return c.on(event as 'change', fn);
      // `ready` once fired calls a late listener at once.
      if (event === 'ready' && ready) fn();
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
