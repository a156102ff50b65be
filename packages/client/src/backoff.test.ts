import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { backoff } from './backoff.js';

describe('backoff', () => {
  test('waits at least 500 ms, even on the first attempt with the lowest draw', () => {
    expect(backoff(0, () => 0)).toBe(500);
  });

  test('the ceiling doubles per attempt and stops at 20 s', () => {
    const top = [0, 1, 2, 3, 4, 5, 6, 10, 100].map((n) => backoff(n, () => 1));
    expect(top).toEqual([1000, 2000, 4000, 8000, 16_000, 20_000, 20_000, 20_000, 20_000]);
  });

  test('full jitter: the draw spreads the delay over the whole range', () => {
    expect(backoff(10, () => 0)).toBe(500);
    expect(backoff(10, () => 0.5)).toBe(10_250);
  });

  test('custom bounds are honoured', () => {
    expect(backoff(0, () => 0, 10, 50)).toBe(10);
    expect(backoff(9, () => 1, 10, 50)).toBe(50);
  });

  test('stays within 500 ms and 20 s for any attempt and draw', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const d = backoff(n, () => r);
        return d >= 500 && d <= 20_000;
      }),
    );
  });
});
