import { readFileSync } from 'node:fs';
import { ERRORS } from '@parley/protocol';
import { expect, test } from 'vitest';
import { BACKEND_ERROR_CODES, BACKEND_ERRORS } from './errors.js';

const docs = readFileSync(new URL('../../../docs/backend-api.md', import.meta.url), 'utf8');

test('every SDK error code is documented in docs/backend-api.md with its status', () => {
  for (const code of BACKEND_ERROR_CODES) {
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    expect(row, code).toBeDefined();
    if (BACKEND_ERRORS[code].status) expect(row, code).toContain(`| ${BACKEND_ERRORS[code].status} |`);
  }
});

test('SDK codes never reuse a protocol code', () => {
  for (const code of BACKEND_ERROR_CODES) expect(Object.keys(ERRORS)).not.toContain(code);
});
