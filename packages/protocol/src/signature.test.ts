import { createHmac } from 'node:crypto';
import { expect, test } from 'vitest';
import { hmacSha256Hex, signWebhook, verifyHmacSha256Hex, verifyWebhookSignature } from './signature.js';

const secret = 'whsec_' + Buffer.from('parley-test-secret-0123456789abcd').toString('base64');

test('signs per Standard Webhooks: v1, base64 HMAC-SHA256 over id.timestamp.body', async () => {
  const body = '{"a":1}';
  const sig = await signWebhook(secret, 'evt_1', 1700000000, body);
  const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`evt_1.1700000000.${body}`).digest('base64');
  expect(sig).toBe(`v1,${expected}`);
});

test('verifies a good signature and refuses tampering, staleness and missing headers', async () => {
  const now = 1700000000_000;
  const body = '{"a":1}';
  const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': '1700000000', 'webhook-signature': await signWebhook(secret, 'evt_1', 1700000000, body) };
  expect(await verifyWebhookSignature(secret, headers, body, { now })).toEqual({ ok: true });
  expect(await verifyWebhookSignature(secret, headers, '{"a":2}', { now })).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
  expect(await verifyWebhookSignature(secret, { ...headers, 'webhook-signature': 'v1,AAAA v1,' + headers['webhook-signature'].slice(3) }, body, { now })).toEqual({ ok: true });
  expect(await verifyWebhookSignature(secret, headers, body, { now: now + 301_000 })).toEqual({ ok: false, reason: 'STALE_TIMESTAMP' });
  expect(await verifyWebhookSignature(secret, { 'webhook-id': 'evt_1' }, body, { now })).toEqual({ ok: false, reason: 'MISSING_HEADERS' });
});

test('identity signatures are hex HMAC-SHA256 and verify in constant time', async () => {
  const hex = await hmacSha256Hex('id-secret', 'user-42');
  expect(hex).toBe(createHmac('sha256', 'id-secret').update('user-42').digest('hex'));
  expect(await verifyHmacSha256Hex('id-secret', 'user-42', hex)).toBe(true);
  expect(await verifyHmacSha256Hex('id-secret', 'user-43', hex)).toBe(false);
  expect(await verifyHmacSha256Hex('id-secret', 'user-42', 'zz')).toBe(false);
});
