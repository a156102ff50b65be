import { createHmac } from 'node:crypto';
import { Id, check } from '@parley/protocol';
import { expect, test } from 'vitest';
import { newId } from './new-id.js';
import { signIdentity } from './sign-identity.js';

test('signIdentity is hex HMAC-SHA256 of the user id under the identity secret', async () => {
  expect(await signIdentity('id-secret', 'user-42')).toBe(createHmac('sha256', 'id-secret').update('user-42').digest('hex'));
});

test('newId makes distinct protocol-valid ids with an optional prefix', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newId('msg_')));
  expect(ids.size).toBe(1000);
  for (const id of ids) {
    expect(id).toMatch(/^msg_[\w-]{21}$/);
    expect(check(Id, id).ok).toBe(true);
  }
});
