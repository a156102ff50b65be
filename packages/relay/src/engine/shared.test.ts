import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cloneData, deepFreeze } from './shared.js';

/** Every object and array inside a value. */
function containers(value: unknown, out: object[] = []): object[] {
  if (typeof value !== 'object' || value === null) return out;
  out.push(value);
  for (const item of Object.values(value)) containers(item, out);
  return out;
}

describe('cloneData', () => {
  test('gives what structuredClone gives for JSON values, sharing no object with the original', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const copy = cloneData(value);
        expect(copy).toStrictEqual(structuredClone(value));
        const originals = new Set(containers(value));
        expect(containers(copy).filter((c) => originals.has(c))).toEqual([]);
      }),
    );
  });

  test('keeps an own __proto__ key as data, as JSON.parse makes it', () => {
    const value = JSON.parse('{"a":{"__proto__":{"polluted":true}}}') as { a: Record<string, unknown> };
    const copy = cloneData(value);
    expect(Object.getPrototypeOf(copy.a)).toBe(Object.prototype);
    expect(Object.keys(copy.a)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('copies what is not plain data as structuredClone does', () => {
    const at = new Date(1_700_000_000_000);
    const copy = cloneData({ at, tags: new Set(['a']) });
    expect(copy.at).not.toBe(at);
    expect(copy.at.getTime()).toBe(at.getTime());
    expect([...copy.tags]).toEqual(['a']);
  });
});

describe('deepFreeze', () => {
  test('freezes every object and array a value holds', () => {
    const value = deepFreeze({ body: { type: 'text', text: 'hi' }, list: [{ n: 1 }] });
    expect(containers(value).every((c) => Object.isFrozen(c))).toBe(true);
    expect(() => {
      (value.body as { text: string }).text = 'changed';
    }).toThrow(TypeError);
  });
});
