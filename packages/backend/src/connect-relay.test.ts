import { describe, expect, test } from 'vitest';
import { backoff } from './backoff.js';
import { backendSocketUrl, connectRelay } from './connect-relay.js';

// connectRelay against a real relay: packages/relay/src/backend-socket-sdk.test.ts.

describe('backoff', () => {
  test('is full jitter between 500 ms and a cap that doubles per attempt up to 20 s', () => {
    expect(backoff(0, () => 0)).toBe(500);
    expect(backoff(0, () => 1)).toBe(1000);
    expect(backoff(1, () => 1)).toBe(2000);
    expect(backoff(3, () => 1)).toBe(8000);
    expect(backoff(10, () => 1)).toBe(20_000);
    expect(backoff(10, () => 0)).toBe(500);
    expect(backoff(10, () => 0.5)).toBe(10_250);
  });
});

describe('connectRelay options', () => {
  test('the socket URL is derived from the relay base URL', () => {
    expect(backendSocketUrl('https://chat.example.com')).toBe('wss://chat.example.com/v1/backend');
    expect(backendSocketUrl('http://127.0.0.1:8787/')).toBe('ws://127.0.0.1:8787/v1/backend');
    expect(backendSocketUrl('wss://chat.example.com/v1/backend')).toBe('wss://chat.example.com/v1/backend');
  });

  test('bad options throw at once', () => {
    expect(() => connectRelay({ url: '', apiSecret: 's', onEvent: () => {} })).toThrow(TypeError);
    expect(() => connectRelay({ url: 'http://x', apiSecret: '', onEvent: () => {} })).toThrow(TypeError);
  });
});
