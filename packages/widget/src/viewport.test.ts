// @vitest-environment happy-dom
import { expect, test } from 'vitest';
import { fakeClient } from '../test/fake-client.js';
import { mount } from './mount.js';

test('the panel follows the visual viewport, so the on-screen keyboard does not cover the composer', () => {
  const vv = Object.assign(new EventTarget(), { height: 640, offsetTop: 0 });
  Object.defineProperty(window, 'visualViewport', { value: vv, configurable: true });
  try {
    const handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client: fakeClient(), locale: 'en', open: true });
    const host = document.querySelector('parley-chat') as HTMLElement;
    expect(host.style.getPropertyValue('--parley-vh')).toBe('640px');
    Object.assign(vv, { height: 360, offsetTop: 12 }); // the keyboard opened
    vv.dispatchEvent(new Event('resize'));
    expect(host.style.getPropertyValue('--parley-vh')).toBe('360px');
    expect(host.style.getPropertyValue('--parley-vt')).toBe('12px');
    handle.destroy();
  } finally {
    delete (window as { visualViewport?: unknown }).visualViewport;
  }
});
