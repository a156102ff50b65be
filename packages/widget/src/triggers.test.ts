// @vitest-environment happy-dom
// The proactive trigger code on its own: a fake clock, scroll and pointer events, and a `show`
// that records what the bubble would show. What a visitor sees of it is in bubble.test.ts.
import type { StorageLike } from '@parley/client';
import type { Greeting, Trigger } from '@parley/protocol';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fakeClient } from '../test/fake-client.js';
import { triggers, urlPattern } from './triggers.js';

const DAY = 864e5;

function memory(): StorageLike & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v), removeItem: (k) => void data.delete(k) };
}

let stop: AbortController;
beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 0, 15, 9, 0) });
  history.replaceState(null, '', '/');
  document.body.innerHTML = '';
  stop = new AbortController();
});
afterEach(() => {
  stop.abort();
  vi.useRealTimers();
});

const trigger = (id: string, when: Trigger['when'], extra: Partial<Trigger> = {}): Trigger => ({ id, when, message: { text: `${id}!`, quickReplies: [] }, ...extra });

/** Start the trigger code for `list`, as the widget does on a page load; `shown` records what it showed. */
function start(list: Trigger[], { storage = memory(), consented = true, accept = () => true }: { storage?: StorageLike; consented?: boolean; accept?: () => boolean } = {}) {
  const shown: string[] = [];
  const show = (m: Greeting) => {
    if (!accept()) return false;
    shown.push(m.text);
    return true;
  };
  triggers(list, show, { siteKey: 'pk_test', relayUrl: 'https://relay.test', storage }, fakeClient({ consented }), stop.signal);
  return { shown, storage };
}

/** A new page load with the same storage: the earlier one's code stops. */
function reload() {
  stop.abort();
  stop = new AbortController();
}

function scrollTo(y: number, page = 4000, viewport = 800) {
  Object.defineProperty(document.documentElement, 'scrollHeight', { value: page, configurable: true });
  Object.defineProperty(window, 'innerHeight', { value: viewport, configurable: true });
  Object.defineProperty(window, 'scrollY', { value: y, configurable: true });
  window.dispatchEvent(new Event('scroll'));
}

const leaveTop = () => document.dispatchEvent(new MouseEvent('mouseout', { clientY: -2, relatedTarget: null, bubbles: true }));

describe('conditions', () => {
  test('time on page: shows once the seconds have passed, not before', async () => {
    const { shown } = start([trigger('wait', { afterSec: 10 })]);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(shown).toEqual([]);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(shown).toEqual(['wait!']);
  });

  test('URL pattern: `*` stands for any characters; a pattern starting http is matched against the whole URL', async () => {
    expect(urlPattern('/cart*').test('/cart?step=2')).toBe(true);
    expect(urlPattern('/cart*').test('/account/cart')).toBe(false);
    expect(urlPattern('/p/*.html').test('/p/shoe.html')).toBe(true);
    expect(urlPattern('/p/*.html').test('/p/shoeXhtml')).toBe(false);
    history.replaceState(null, '', '/help.html');
    const { shown } = start([trigger('cart', { url: '/cart*' }), trigger('full', { url: 'http://localhost*/help.html' })]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(shown).toEqual(['full!']);
  });

  test('a single-page app: the URL is read again on every check, and time on page restarts on a route change', async () => {
    const { shown } = start([trigger('cart', { url: '/cart', afterSec: 5 })]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(shown).toEqual([]);
    history.pushState(null, '', '/cart');
    await vi.advanceTimersByTimeAsync(3_000);
    expect(shown).toEqual([]);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(shown).toEqual(['cart!']);
  });

  test('scroll depth: shows when the bottom of the viewport passes the percentage of the page', () => {
    scrollTo(0);
    const { shown } = start([trigger('deep', { scrollPct: 50 })]);
    scrollTo(1000); // (1000 + 800) / 4000 = 45%
    expect(shown).toEqual([]);
    scrollTo(1300); // 52.5%
    expect(shown).toEqual(['deep!']);
  });

  test('exit intent: the pointer leaving through the top edge, not leaving into the page or sideways', () => {
    const { shown } = start([trigger('bye', { exitIntent: true })]);
    document.dispatchEvent(new MouseEvent('mouseout', { clientY: 300, relatedTarget: null, bubbles: true }));
    document.body.dispatchEvent(new MouseEvent('mouseout', { clientY: -1, relatedTarget: document.documentElement, bubbles: true }));
    expect(shown).toEqual([]);
    leaveTop();
    expect(shown).toEqual(['bye!']);
  });

  test('returning visitor: a page view 30 minutes or more after the last one is a new visit, and the visitor stays returning', async () => {
    const storage = memory();
    const list = [trigger('new', { returning: false }, { everyDays: 0 }), trigger('back', { returning: true }, { everyDays: 0 })];
    expect(start(list, { storage }).shown).toEqual(['new!']);
    reload();
    await vi.advanceTimersByTimeAsync(10 * 60e3);
    expect(start(list, { storage }).shown).toEqual(['new!']); // the same visit
    reload();
    await vi.advanceTimersByTimeAsync(40 * 60e3);
    expect(start(list, { storage }).shown).toEqual(['back!']);
    reload();
    await vi.advanceTimersByTimeAsync(60e3);
    expect(start(list, { storage }).shown).toEqual(['back!']);
  });

  test('a page attribute: present, equal to a value, or a number within bounds; read again on every check', async () => {
    document.body.innerHTML = '<div id="cart" data-parley-cart-value="49.90"></div>';
    const { shown } = start([trigger('big', { attr: { name: 'cart-value', gte: 100 } }), trigger('tier', { attr: { name: 'tier', eq: 'gold' } })]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(shown).toEqual([]);
    document.getElementById('cart')!.setAttribute('data-parley-cart-value', '129.00 EUR');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(shown).toEqual(['big!']);
  });

  test('every condition of a trigger must hold; the first trigger in the list whose conditions hold wins, and one shows per page load', async () => {
    history.replaceState(null, '', '/cart');
    scrollTo(0);
    const { shown } = start([trigger('both', { url: '/cart', scrollPct: 90 }), trigger('later', { afterSec: 3 }), trigger('also', { afterSec: 3 })]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(shown).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(shown).toEqual(['later!']);
    scrollTo(3200);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(shown).toEqual(['later!']);
  });

  test('while the widget cannot show it (panel open, a bubble up), the trigger waits and shows when it can', async () => {
    let free = false;
    const { shown } = start([trigger('wait', { afterSec: 1 })], { accept: () => free });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(shown).toEqual([]);
    free = true;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(shown).toEqual(['wait!']);
  });

  test('stops when the widget is removed', async () => {
    const { shown } = start([trigger('wait', { afterSec: 2 })]);
    stop.abort();
    await vi.advanceTimersByTimeAsync(5_000);
    leaveTop();
    expect(shown).toEqual([]);
  });
});

describe('frequency caps', () => {
  test('once per N days per visitor: not again on the next page, again after N days', async () => {
    const storage = memory();
    const list = [trigger('weekly', {}, { everyDays: 7 })];
    expect(start(list, { storage }).shown).toEqual(['weekly!']);
    reload();
    await vi.advanceTimersByTimeAsync(6 * DAY);
    expect(start(list, { storage }).shown).toEqual([]);
    reload();
    await vi.advanceTimersByTimeAsync(DAY);
    expect(start(list, { storage }).shown).toEqual(['weekly!']);
    expect(JSON.parse(storage.getItem('parley:pk_test:trg')!).shown).toEqual({ weekly: Date.now() });
  });

  test('with no cap given, once a day; `everyDays: 0` on every page load', async () => {
    const storage = memory();
    const list = [trigger('daily', {}), trigger('always', {}, { everyDays: 0 })];
    expect(start(list, { storage }).shown).toEqual(['daily!']);
    reload();
    expect(start(list, { storage }).shown).toEqual(['always!']);
    reload();
    expect(start(list, { storage }).shown).toEqual(['always!']);
  });

  test('without consent nothing is written, and a capped trigger does not show (its cap could not hold); an uncapped one does', async () => {
    const storage = memory();
    expect(start([trigger('capped', {}, { everyDays: 1 }), trigger('free', {}, { everyDays: 0 })], { storage, consented: false }).shown).toEqual(['free!']);
    expect([...storage.data.keys()]).toEqual([]);
  });

  test('with storage refused (quota, private mode), the trigger still shows and nothing breaks', () => {
    const storage: StorageLike = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('quota');
      },
      removeItem: () => {},
    };
    expect(start([trigger('t', {})], { storage }).shown).toEqual(['t!']);
  });
});
