import { describe, expect, test } from 'vitest';
import { signVisitorToken, verifyVisitorToken } from './visitor-token.js';

const SECRET = 'token-secret-for-tests-0123456789abcdef';
const claims = { siteKey: 'pk_test', visitorId: 'v_1', conversationId: 'c_1' };

describe('visitor tokens', () => {
  test('a signed token verifies to its claims', () => {
    expect(verifyVisitorToken(SECRET, signVisitorToken(SECRET, claims))).toEqual(claims);
    expect(verifyVisitorToken(SECRET, signVisitorToken(SECRET, { ...claims, userId: 'u1' }))).toEqual({ ...claims, userId: 'u1' });
  });

  test('another secret, a changed payload or garbage does not verify', () => {
    const token = signVisitorToken(SECRET, claims);
    expect(verifyVisitorToken('another-secret-0123456789abcdefghij', token)).toBeNull();
    const [v, , sig] = token.split('.');
    const other = Buffer.from(JSON.stringify({ s: 'pk_test', v: 'v_1', c: 'c_2' })).toString('base64url');
    expect(verifyVisitorToken(SECRET, `${v}.${other}.${sig}`)).toBeNull();
    expect(verifyVisitorToken(SECRET, `${token}x`)).toBeNull();
    expect(verifyVisitorToken(SECRET, 'v1..')).toBeNull();
    expect(verifyVisitorToken(SECRET, '')).toBeNull();
  });
});
