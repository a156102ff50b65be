// @vitest-environment happy-dom
import { afterEach, expect, test } from 'vitest';
import { install as installLoader } from '../../loader/src/loader.js';
import { fakeClient } from '../test/fake-client.js';
import { installGlobal, type Command, type ParleyGlobal } from './global.js';

const w = window as unknown as { Parley?: ParleyGlobal };
afterEach(() => {
  w.Parley?.('shutdown');
  delete w.Parley;
  document.body.innerHTML = '';
});

const boot = (client: ReturnType<typeof fakeClient>): Command => ['boot', { siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', locale: 'en', client }];
const panel = () => document.querySelector('parley-chat')?.shadowRoot?.querySelector('.p') ?? null;

const nextTask = () => new Promise((resolve) => setTimeout(resolve));

test('replays the queued commands in order, waiting for boot, then replaces window.Parley', async () => {
  const client = fakeClient({ unread: 0 });
  const opened: string[] = [];
  const card = { title: 'Trail Runner 2', price: '€129.00' };
  w.Parley = Object.assign(() => {}, {
    q: <Command[]>[['product', card], ['on', 'open', () => opened.push('open')], boot(client), ['identify', { userId: 'u1' }], ['open'], ['context', { url: 'https://shop.example/cart', title: 'Cart' }]],
  });
  installGlobal(w);
  const replayed = [
    ['setContext', { product: card }],
    ['identify', { userId: 'u1' }],
    ['connect'],
    ['setContext', { url: 'https://shop.example/cart', title: 'Cart' }],
  ];
  expect(client.calls).toEqual(replayed);
  // The client is prepared in a task of its own (the real client ignores it once connected).
  await nextTask();
  expect(client.calls).toEqual([...replayed, ['prepare']]);
  expect(opened).toEqual(['open']);
  expect(panel()).not.toBeNull();
  expect(w.Parley!.q).toBeUndefined();
  w.Parley!('close');
  expect(panel()).toBeNull();
});

test('with the loader: commands made before and after the bundle arrives run in order', () => {
  const client = fakeClient();
  installLoader(window as unknown as Parameters<typeof installLoader>[0], null);
  const seen: number[] = [];
  w.Parley!(...boot(client));
  w.Parley!('on', 'unread', (n: number) => seen.push(n));
  w.Parley!('toggle');
  installGlobal(w);
  w.Parley!('send', 'hello');
  client.emit('unread', 2);
  expect(panel()).not.toBeNull();
  expect(client.calls.filter((c) => c[0] === 'send')).toEqual([['send', 'hello']]);
  expect(seen).toEqual([2]);
});

test('shutdown forgets the visitor and removes the widget; a later boot mounts a fresh one', async () => {
  const first = fakeClient();
  installGlobal(w);
  w.Parley!(...boot(first));
  w.Parley!('consent');
  w.Parley!('shutdown');
  expect(document.querySelector('parley-chat')).toBeNull();
  const second = fakeClient();
  w.Parley!(...boot(second));
  expect(document.querySelectorAll('parley-chat')).toHaveLength(1);
  await nextTask();
  // The widget removed before its client was prepared leaves it alone.
  expect(first.calls.map((c) => c[0])).toEqual(['consent', 'shutdown']);
  expect(second.calls).toEqual([['prepare']]);
});

test('a second boot is ignored while a widget is mounted', () => {
  installGlobal(w);
  w.Parley!(...boot(fakeClient()));
  w.Parley!(...boot(fakeClient()));
  expect(document.querySelectorAll('parley-chat')).toHaveLength(1);
});

test('`ready`: a listener queued before the bundle is called once the widget is mounted; one added later, at once', async () => {
  const client = fakeClient();
  const seen: string[] = [];
  installLoader(window as unknown as Parameters<typeof installLoader>[0], null);
  w.Parley!('on', 'ready', () => seen.push('queued'));
  w.Parley!(...boot(client));
  installGlobal(w);
  expect(seen).toEqual([]);
  await nextTask();
  expect(seen).toEqual(['queued']);
  w.Parley!('on', 'ready', () => seen.push('later'));
  expect(seen).toEqual(['queued', 'later']);
});
