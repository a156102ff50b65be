import { expect, test } from 'vitest';
import { relayHttpUrl, widgetSocketUrl } from './relay-url.js';

test('maps an http(s) or ws(s) base URL to the widget socket URL', () => {
  expect(widgetSocketUrl('https://chat.shop.example')).toBe('wss://chat.shop.example/v1/widget');
  expect(widgetSocketUrl('http://127.0.0.1:8787/')).toBe('ws://127.0.0.1:8787/v1/widget');
  expect(widgetSocketUrl('wss://shop.example/chat/')).toBe('wss://shop.example/chat/v1/widget');
});

test('refuses a URL that is not http(s) or ws(s)', () => {
  expect(() => widgetSocketUrl('ftp://shop.example')).toThrow(TypeError);
  expect(() => widgetSocketUrl('not a url')).toThrow();
});

test('maps a base URL to an HTTP URL on the relay', () => {
  expect(relayHttpUrl('wss://chat.shop.example', '/v1/sites/pk/config')).toBe('https://chat.shop.example/v1/sites/pk/config');
  expect(relayHttpUrl('http://127.0.0.1:8787/', '/v1/x')).toBe('http://127.0.0.1:8787/v1/x');
  expect(relayHttpUrl('ws://shop.example/chat/', '/v1/x')).toBe('http://shop.example/chat/v1/x');
  expect(() => relayHttpUrl('ftp://shop.example', '/v1/x')).toThrow(TypeError);
});
