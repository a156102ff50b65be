// @vitest-environment happy-dom
import { Window } from 'happy-dom';
import { afterEach, describe, expect, test } from 'vitest';
import { install, type ParleyStub } from './loader.js';

// Each test gets its own browser window: a page that is still loading, with the loader
// tag at https://cdn.shop.example/parley/loader.js and an idle callback we run by hand.
const windows: Window[] = [];
afterEach(async () => {
  await Promise.all(windows.splice(0).map((w) => w.happyDOM.close()));
});

function page(attrs: Record<string, string> = {}, before?: (w: Window) => void) {
  const win = new Window({
    url: 'https://shop.example/products/trail-runner',
    settings: { disableJavaScriptFileLoading: true, handleDisabledFileLoadingAsSuccess: true },
  });
  windows.push(win);
  const doc = win.document;
  doc.title = 'Trail Runner 2';
  let readyState = 'loading';
  Object.defineProperty(doc, 'readyState', { get: () => readyState, configurable: true });
  const idle: (() => void)[] = [];
  Object.assign(win, { requestIdleCallback: (fn: () => void) => idle.push(fn) });
  const me = doc.createElement('script');
  me.src = 'https://cdn.shop.example/parley/loader.js';
  for (const [k, v] of Object.entries(attrs)) me.setAttribute(k, v);
  doc.head.append(me);
  before?.(win);
  install(win as unknown as Parameters<typeof install>[0], me as unknown as HTMLScriptElement);
  const Parley = (...args: unknown[]) => ((win as unknown as { Parley: ParleyStub }).Parley)(...args);
  return {
    win,
    Parley,
    queue: () => (win as unknown as { Parley: ParleyStub }).Parley.q,
    /** The widget bundle requests the page has made so far. */
    requested: () => [...doc.querySelectorAll('script')].filter((s) => s !== me).map((s) => s.src),
    loaded() {
      readyState = 'complete';
      win.dispatchEvent(new win.Event('load'));
    },
    idle: () => idle.splice(0).forEach((fn) => fn()),
    tick: () => new Promise((resolve) => win.setTimeout(resolve)),
  };
}

describe('command queue', () => {
  test('queues commands in the order they were made, for the bundle to replay', () => {
    const p = page();
    const onUnread = () => {};
    p.Parley('boot', { siteKey: 'pk_test', relayUrl: 'https://chat.shop.example' });
    p.Parley('product', { title: 'Trail Runner 2' });
    p.Parley('on', 'unread', onUnread);
    p.Parley('identify', { userId: 'u1' });
    expect(p.queue()).toEqual([
      ['boot', { siteKey: 'pk_test', relayUrl: 'https://chat.shop.example' }],
      ['product', { title: 'Trail Runner 2' }],
      ['on', 'unread', onUnread],
      ['identify', { userId: 'u1' }],
    ]);
  });

  test('keeps commands a page queued before the loader ran', () => {
    const p = page({}, (w) => {
      const early = Object.assign((...a: unknown[]) => early.q.push(a), { q: [['boot', { siteKey: 'pk_test' }]] as unknown[][] });
      Object.assign(w, { Parley: early });
    });
    p.Parley('open');
    expect(p.queue()).toEqual([['boot', { siteKey: 'pk_test' }], ['open']]);
  });

  test('leaves a live Parley alone when the bundle is already on the page', () => {
    const live = () => 'live';
    const p = page({}, (w) => Object.assign(w, { Parley: live }));
    expect((p.win as unknown as { Parley: unknown }).Parley).toBe(live);
  });
});

describe('loading the widget bundle', () => {
  test('requests nothing before the page has loaded, then loads the bundle next to the loader when idle', () => {
    const p = page();
    p.Parley('boot', { siteKey: 'pk_test' });
    p.Parley('product', { title: 'Trail Runner 2' });
    p.idle();
    expect(p.requested()).toEqual([]);
    p.loaded();
    expect(p.requested()).toEqual([]);
    p.idle();
    expect(p.requested()).toEqual(['https://cdn.shop.example/parley/parley.iife.js']);
  });

  test('loads at once, and only once, when the visitor shows intent before the page has loaded', () => {
    const p = page();
    p.Parley('open');
    expect(p.requested()).toEqual(['https://cdn.shop.example/parley/parley.iife.js']);
    p.Parley('toggle');
    p.loaded();
    p.idle();
    expect(p.requested()).toHaveLength(1);
  });

  test('a send is intent too: the bundle loads at once to deliver it', () => {
    const p = page();
    p.Parley('product', { title: 'Trail Runner 2' });
    expect(p.requested()).toEqual([]);
    p.Parley('send', 'Do you ship to Norway?');
    expect(p.requested()).toEqual(['https://cdn.shop.example/parley/parley.iife.js']);
  });

  // The README's snippet: an inline stub, then loader.js with `async`.
  const inlineStub = (...commands: unknown[][]) => (w: Window) => {
    const win = w as unknown as { Parley?: ((...a: unknown[]) => void) & { q?: unknown[][] } };
    const Parley = (win.Parley = function (...args: unknown[]) {
      (Parley.q = Parley.q || []).push([].slice.call(args));
    } as NonNullable<typeof win.Parley>);
    for (const c of commands) Parley(...c);
  };

  test('loads at once when an inline stub queued open before the loader ran', () => {
    const p = page({}, inlineStub(['boot', { siteKey: 'pk_test' }], ['open']));
    expect(p.requested()).toEqual(['https://cdn.shop.example/parley/parley.iife.js']);
    expect(p.queue()).toEqual([['boot', { siteKey: 'pk_test' }], ['open']]);
    p.loaded();
    p.idle();
    expect(p.requested()).toHaveLength(1);
  });

  test('an early inline open loads from the src of a boot queued after it', () => {
    const p = page({}, inlineStub(['toggle'], ['boot', { siteKey: 'pk_test', src: 'https://static.shop.example/parley.iife.js' }]));
    expect(p.requested()).toEqual(['https://static.shop.example/parley.iife.js']);
  });

  test('an inline stub with no intent still waits for load and idle', () => {
    const p = page({}, inlineStub(['boot', { siteKey: 'pk_test', src: 'https://static.shop.example/parley.iife.js' }]));
    expect(p.requested()).toEqual([]);
    p.loaded();
    p.idle();
    expect(p.requested()).toEqual(['https://static.shop.example/parley.iife.js']);
  });

  test('takes the bundle URL from data-src, or from boot {src}', () => {
    const a = page({ 'data-src': 'https://static.shop.example/chat/parley.iife.js' });
    a.Parley('open');
    expect(a.requested()).toEqual(['https://static.shop.example/chat/parley.iife.js']);
    const b = page();
    b.Parley('boot', { siteKey: 'pk_test', src: 'https://other.example/parley.iife.js' });
    b.Parley('toggle');
    expect(b.requested()).toEqual(['https://other.example/parley.iife.js']);
  });
});

describe('single-page apps', () => {
  test('pushState, replaceState and popstate become context commands, once per new URL', async () => {
    const p = page();
    p.win.history.pushState({}, '', '/cart');
    p.win.document.title = 'Your cart';
    await p.tick();
    p.win.history.replaceState({}, '', '/cart');
    await p.tick();
    p.win.history.replaceState({}, '', '/checkout');
    await p.tick();
    // Back button: the browser has changed the URL when popstate fires.
    p.win.happyDOM.setURL('https://shop.example/products/trail-runner');
    p.win.dispatchEvent(new p.win.PopStateEvent('popstate'));
    await p.tick();
    expect(p.queue()).toEqual([
      ['context', { url: 'https://shop.example/cart', title: 'Your cart' }],
      ['context', { url: 'https://shop.example/checkout', title: 'Your cart' }],
      ['context', { url: 'https://shop.example/products/trail-runner', title: 'Your cart' }],
    ]);
  });

  test('pushState still changes the URL', () => {
    const p = page();
    p.win.history.pushState({ step: 1 }, '', '/cart');
    expect(p.win.location.href).toBe('https://shop.example/cart');
    expect(p.win.history.state).toEqual({ step: 1 });
  });
});
