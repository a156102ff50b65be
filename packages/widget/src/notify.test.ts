// @vitest-environment happy-dom
import { afterEach, expect, test } from 'vitest';
import { fakeClient, msg } from '../test/fake-client.js';
import { mount } from './mount.js';

let hidden = false;
Object.defineProperty(document, 'hidden', { get: () => hidden, configurable: true });
afterEach(() => {
  hidden = false;
  document.body.innerHTML = '';
});

test('a message notified while the page is hidden flashes the title until the page is shown', () => {
  document.title = 'Trail Runner 2';
  const client = fakeClient();
  const handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en' });
  client.emit('notify', msg('agent', 'Your order shipped'));
  expect(document.title).toBe('Trail Runner 2'); // visible: nothing to flash
  hidden = true;
  client.emit('notify', msg('agent', 'Your order shipped'));
  expect(document.title).toBe('New message');
  hidden = false;
  document.dispatchEvent(new Event('visibilitychange'));
  expect(document.title).toBe('Trail Runner 2');
  handle.destroy();
});
