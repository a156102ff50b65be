import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { CLOSE, ERRORS, ERROR_CODES } from '@parley/protocol';

const doc = (name: string) => readFileSync(fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url)), 'utf8');

describe('docs stay in sync with the registry', () => {
  test('every error code is documented in docs/errors.md with its HTTP status', () => {
    const errors = doc('errors.md');
    const missing = ERROR_CODES.filter((code) => !new RegExp(`\\| \`${code}\` \\| ${ERRORS[code].status} \\|`).test(errors));
    expect(missing, 'add these codes to docs/errors.md (| `CODE` | status | meaning | where |)').toEqual([]);
  });

  test('every close code is in the close-code table of docs/protocol.md', () => {
    const protocol = doc('protocol.md');
    const missing = Object.entries(CLOSE).filter(([name, code]) => !new RegExp(`\\| ${code} \\| \`${name}\` \\|`).test(protocol));
    expect(missing, 'add these close codes to docs/protocol.md').toEqual([]);
  });

  test('every frame type has an example in docs/protocol.md', () => {
    const protocol = doc('protocol.md');
    for (const t of ['hello', 'send', 'typing', 'read', 'context', 'ping', 'welcome', 'ack', 'msg', 'event', 'error', 'pong']) {
      expect(protocol, `frame ${t}`).toContain(`"t": "${t}"`);
    }
  });
});
