// @vitest-environment happy-dom
// The extras (the rating and leave-a-message forms, past conversations, the 👎 comment, cards,
// ratings and files in the log) come in a module of their own. Here its loader is a stand-in
// that counts the loads and lets the test complete or fail each one, so what the widget shows
// meanwhile can be seen.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { fakeClient, msg } from '../test/fake-client.js';
import type { WidgetHandle } from './options.js';

const loads = vi.hoisted(() => ({ count: 0, pending: [] as { done(): void; fail(): void }[] }));
vi.mock('./extras-import.js', async (real) => {
  const { loadExtras } = await real<typeof import('./extras-import.js')>();
  return {
    loadExtras: () => {
      loads.count++;
      return new Promise((resolve, reject) => loads.pending.push({ done: () => void loadExtras().then(resolve), fail: () => reject(new Error('offline')) }));
    },
  };
});

let handle: WidgetHandle | undefined;
beforeEach(() => {
  // A fresh copy of the widget's modules for each test: nothing loaded yet.
  vi.resetModules();
  loads.count = 0;
  loads.pending = [];
});
afterEach(() => {
  handle?.destroy();
  handle = undefined;
  document.body.innerHTML = '';
});

async function setup(patch: Parameters<typeof fakeClient>[0], open: boolean) {
  const { mount } = await import('./mount.js');
  const client = fakeClient(patch);
  handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en-US', open });
  const root = document.querySelector('parley-chat')!.shadowRoot!;
  return { client, root, $: (sel: string) => root.querySelector<HTMLElement>(sel) };
}

/** Let pending promises settle and the widget draw. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

test('not loaded on a page view nor for a plain chat; asked for a rating, the widget loads it at once and shows the form once it is there', async () => {
  const w = await setup({ timeline: [msg('bot', 'Hello!'), msg('visitor', 'Hi', { status: 'read' })] }, false);
  await settle();
  expect(loads.count).toBe(0);
  handle!.open();
  await settle();
  expect(w.$('.m')!.textContent).toContain('Hello!');
  expect(loads.count).toBe(0);

  // Asked while the panel is closed: the load starts then, not when the panel opens.
  handle!.close();
  w.client.update({ ratingRequested: { text: 'How was it?' } });
  expect(loads.count).toBe(1);
  handle!.open();
  // Nothing meanwhile: no half-drawn form.
  expect(w.$('.r')).toBeNull();
  loads.pending.shift()!.done();
  await vi.waitFor(() => expect(w.$('.r')).not.toBeNull());
  expect(w.$('.r')!.getAttribute('aria-label')).toBe('How did we do?');
  expect(w.$('.r p')!.textContent).toBe('How was it?');
  expect(w.$('.r button')!.getAttribute('aria-label')).toBe('1 star');
  expect(loads.count).toBe(1);
});

test('loaded as soon as nobody is online or the conversation has ended, before the panel opens', async () => {
  const w = await setup({}, false);
  expect(loads.count).toBe(0);
  w.client.update({ online: false });
  expect(loads.count).toBe(1);
  handle!.destroy();
  const v = await setup({ closed: true }, false);
  expect(v.$('.p')).toBeNull();
  expect(loads.count).toBe(1); // the same load: one module for both
});

test('a failed load shows nothing, and the next render tries again', async () => {
  const w = await setup({ online: false }, true);
  expect(loads.count).toBe(1);
  loads.pending.shift()!.fail();
  await settle();
  expect(w.$('.o')).toBeNull();
  expect(w.$('.f')).toBeNull(); // no composer either: nobody is online to answer it
  // Any change renders again, and loads again.
  w.client.update({ unread: 0 });
  expect(loads.count).toBe(2);
  loads.pending.shift()!.done();
  await vi.waitFor(() => expect(w.$('.o textarea')).not.toBeNull());
  expect(w.$('.o')!.textContent).toContain('Leave a message');
});

test('a card arriving in the log shows once the module is there', async () => {
  const w = await setup({ timeline: Array.from({ length: 30 }, (_, i) => msg('bot', `line ${i}`)) }, true);
  w.client.update({ timeline: [...w.client.getSnapshot().timeline, msg('bot', { type: 'card', kind: 'order', title: 'Order #1001', subtitle: 'Shipped.' })] });
  expect(loads.count).toBe(1);
  expect(w.$('.c')).toBeNull();
  loads.pending.shift()!.done();
  await vi.waitFor(() => expect(w.$('.c')).not.toBeNull());
  expect(w.$('.c')!.textContent).toContain('Order #1001');
});
