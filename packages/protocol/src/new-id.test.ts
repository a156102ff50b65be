import { describe, expect, test } from 'vitest';
import { ID_RE } from './patterns.js';
import { newId } from './new-id.js';

describe('newId', () => {
  test('is the prefix and 21 url-safe characters, a valid protocol id', () => {
    for (let i = 0; i < 1000; i++) {
      const id = newId('evt_');
      expect(id).toMatch(/^evt_[A-Za-z0-9_-]{21}$/);
      expect(id).toMatch(ID_RE);
    }
  });

  test('100,000 ids in a row, across many refills of the random pool, are all different', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100_000; i++) ids.add(newId('c_'));
    expect(ids.size).toBe(100_000);
  });

  test('every character of the alphabet turns up in every position', () => {
    const seen = Array.from({ length: 21 }, () => new Set<string>());
    for (let i = 0; i < 5000; i++) {
      const id = newId('');
      for (let p = 0; p < 21; p++) seen[p]!.add(id[p]!);
    }
    for (const chars of seen) expect(chars.size).toBe(64);
  });
});
