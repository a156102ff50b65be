// @vitest-environment happy-dom
import { afterEach, expect, test, vi } from 'vitest';
import { fakeClient, msg } from '../test/fake-client.js';
import { mount } from './mount.js';

let hidden = false;
Object.defineProperty(document, 'hidden', { get: () => hidden, configurable: true });
afterEach(() => {
  hidden = false;
  document.body.innerHTML = '';
});

test('a message notified while the page is hidden flashes the title until the page is shown', async () => {
  document.title = 'Trail Runner 2';
  const client = fakeClient();
  const handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en' });
  client.emit('notify', msg('agent', 'Your order shipped'));
  expect(document.title).toBe('Trail Runner 2'); // visible: nothing to flash
  hidden = true;
  client.emit('notify', msg('agent', 'Your order shipped'));
  // The alert code comes with the extras, loaded on the first alert.
  await vi.waitFor(() => expect(document.title).toBe('New message'));
  hidden = false;
  document.dispatchEvent(new Event('visibilitychange'));
  expect(document.title).toBe('Trail Runner 2');
  handle.destroy();
});

test('a widget destroyed while the alert code loads leaves the title alone', async () => {
  document.title = 'Trail Runner 2';
  const client = fakeClient();
  const handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en' });
  hidden = true;
  client.emit('notify', msg('agent', 'Your order shipped'));
  handle.destroy();
  const titles = new Set<string>();
  for (let i = 0; i < 12; i++) {
    await new Promise((r) => setTimeout(r, 100));
    titles.add(document.title);
  }
  expect([...titles]).toEqual(['Trail Runner 2']);
});

test('with sound on, a notified message beeps once through Web Audio (no audio file)', async () => {
  const started: number[] = [];
  class FakeAudioContext {
    currentTime = 0;
    destination = {};
    resume = async () => {};
    createGain = () => ({ gain: { value: 1 }, connect: (next: unknown) => next });
    createOscillator = () => ({
      frequency: { value: 0 },
      connect: (next: unknown) => next,
      start: () => started.push(Date.now()),
      stop: () => {},
    });
  }
  const original = (window as { AudioContext?: unknown }).AudioContext;
  (window as { AudioContext?: unknown }).AudioContext = FakeAudioContext;
  try {
    const client = fakeClient();
    const handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en', sound: true });
    handle.open(); // a user gesture unlocks audio
    handle.close();
    hidden = true;
    client.emit('notify', msg('agent', 'Your order shipped'));
    await vi.waitFor(() => expect(started).toHaveLength(1));
    handle.destroy();
  } finally {
    (window as { AudioContext?: unknown }).AudioContext = original;
  }
});

test('coming back to a hidden tab with the panel open marks the new messages read', () => {
  const client = fakeClient();
  const handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en', open: true });
  hidden = true;
  client.update({ unread: 1, timeline: [msg('agent', 'Your order shipped')] });
  expect(client.calls.filter((c) => c[0] === 'markRead')).toEqual([]);
  hidden = false;
  document.dispatchEvent(new Event('visibilitychange'));
  expect(client.calls.filter((c) => c[0] === 'markRead')).toHaveLength(1);
  expect(document.querySelector('parley-chat')!.shadowRoot!.querySelector('.b')).toBeNull();
  handle.destroy();
});
