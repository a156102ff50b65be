/** `window.Parley` until the widget bundle arrives: a function that queues its arguments in `q`. */
export interface ParleyStub {
  (...command: unknown[]): void;
  q: unknown[][];
}

type Win = Window & typeof globalThis & { Parley?: ((...command: unknown[]) => unknown) & { q?: unknown[][] } };

/**
 * Installs the command queue and schedules the widget bundle.
 *
 * - `window.Parley(...args)` pushes `args` onto `window.Parley.q`; the bundle replays the
 *   queue in order, then replaces `window.Parley` with the live command function.
 * - Bundle URL: `Parley('boot', {src})` if given, else the loader tag's `data-src`, else
 *   `parley.iife.js` next to the loader.
 * - Nothing is fetched before the page's `load` event; then the bundle loads when the
 *   browser is idle — or at once when the visitor shows intent (`open`/`toggle`/`send`), also
 *   when an inline stub queued it before the loader ran.
 * - History changes (`pushState`, `replaceState`, `popstate`) become
 *   `Parley('context', {url, title})`, sent once per new URL.
 */
export function install(w: Win, me: HTMLScriptElement | null): void {
  const d = w.document;
  const prev = w.Parley;
  if (prev && !prev.q) return; // the bundle is already here
  let src = me && (me.dataset.src || new URL('parley.iife.js', me.src).href);
  let started = false;
  const load = () => {
    if (started || !src) return;
    started = true;
    const s = d.createElement('script');
    s.src = src;
    s.async = true;
    d.head.append(s);
  };
  /** Takes a bundle URL from `boot {src}`; true for intent (`open`/`toggle`/`send`). */
  const see = (command: unknown[]) => {
    const [name, options] = command as [string, { src?: string } | undefined];
    if (name == 'boot' && options && options.src) src = options.src;
    return name == 'open' || name == 'toggle' || name == 'send';
  };
  const stub = ((...command: unknown[]) => {
    stub.q.push(command);
    if (see(command)) load();
  }) as ParleyStub;
  stub.q = (prev && prev.q) || [];
  w.Parley = stub;
  // Commands an inline stub queued before this script ran count too: an early
  // `Parley('open')` (a visitor who tapped "chat" while the page loaded) loads at once,
  // from the `src` of a `boot` queued after it if there is one (filter sees every command).
  if (stub.q.filter(see).length) load();

  const idle = () => (w.requestIdleCallback ? w.requestIdleCallback(load, { timeout: 5000 }) : w.setTimeout(load, 1));
  if (d.readyState == 'complete') idle();
  else w.addEventListener('load', idle);

  let url = w.location.href;
  const context = () => {
    // Deferred a tick: routers usually set the new title just after pushing the URL.
    w.setTimeout(() => {
      if (w.location.href == url) return;
      url = w.location.href;
      w.Parley!('context', { url, title: d.title });
    });
  };
  const h = w.history;
  for (const m of ['pushState', 'replaceState'] as const) {
    const original = h[m];
    h[m] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      context();
    };
  }
  w.addEventListener('popstate', context);
}
