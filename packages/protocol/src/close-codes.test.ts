import { describe, expect, test } from 'vitest';
import { CLOSE, CLOSE_OF, errorOf, shouldReconnect } from './close-codes.js';
import { isErrorCode } from './errors.js';

const closeCodes = Object.values(CLOSE);

describe('close codes and error codes', () => {
  test('every close code in CLOSE is a distinct number', () => {
    expect(new Set(closeCodes).size).toBe(closeCodes.length);
  });

  test('every close code stands for a registered error code, except PROTOCOL_ERROR', () => {
    expect(closeCodes.filter((c) => !errorOf(c))).toEqual([CLOSE.PROTOCOL_ERROR]);
    expect(errorOf(CLOSE.PROTOCOL_ERROR)).toBeNull();
    for (const c of closeCodes) if (c !== CLOSE.PROTOCOL_ERROR) expect(isErrorCode(errorOf(c)), String(c)).toBe(true);
  });

  test('CLOSE_OF and errorOf agree both ways', () => {
    for (const [code, close] of Object.entries(CLOSE_OF)) expect(errorOf(close)).toBe(code);
    for (const c of closeCodes) {
      const code = errorOf(c);
      if (code) expect(CLOSE_OF[code as keyof typeof CLOSE_OF]).toBe(c);
    }
  });

  test('each close code appears once in CLOSE_OF, PROTOCOL_ERROR not at all', () => {
    const closes = Object.values(CLOSE_OF);
    expect(closes.slice().sort()).toEqual(closeCodes.filter((c) => c !== CLOSE.PROTOCOL_ERROR).sort());
  });

  test('a refusal keeps its retry policy: the do-not-reconnect closes are the hello refusals', () => {
    expect(closeCodes.filter((c) => !shouldReconnect(c)).map(errorOf)).toEqual([
      'BAD_SITE_KEY',
      'ORIGIN_REFUSED',
      'TOKEN_INVALID',
      'IDENTITY_INVALID',
      'UNSUPPORTED_VERSION',
      'BAD_FRAME',
    ]);
  });

  test('a code outside CLOSE stands for no error code', () => {
    expect(errorOf(1000)).toBeUndefined();
    expect(errorOf(4499)).toBeUndefined();
  });
});
