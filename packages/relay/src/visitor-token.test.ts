import { describe, expect, test } from 'vitest';
import { CLOSE } from '@parley/protocol';
import { createRelayClient } from '@parley/backend';
import { VisitorTokens, signVisitorToken, verifyVisitorToken } from './visitor-token.js';
import { API_SECRET, API_SECRET_2, TestClient, startBackend, startRelay, testConfig } from './test-support/harness.js';

const SECRET = 'token-secret-for-tests-0123456789abcdef';
const NEW_SECRET = 'token-secret-rotated-in-0123456789abcdef';
const claims = { siteKey: 'pk_test', visitorId: 'v_1', conversationId: 'c_1' };
const NOW = 1_800_000_000_000;
const at = (ms: number) => ({ now: () => ms });

describe('visitor tokens', () => {
  test('a signed token verifies to its claims, with its issue and expiry times', () => {
    expect(verifyVisitorToken(SECRET, signVisitorToken(SECRET, claims, at(NOW)), at(NOW))).toEqual({
      ...claims,
      issuedAt: NOW / 1000,
      expiresAt: NOW / 1000 + 30 * 86_400,
    });
    const withUser = verifyVisitorToken(SECRET, signVisitorToken(SECRET, { ...claims, userId: 'u1' }, at(NOW)), at(NOW));
    expect(withUser).toMatchObject({ ...claims, userId: 'u1' });
  });

  test('another secret, a changed payload or garbage does not verify', () => {
    const token = signVisitorToken(SECRET, claims);
    expect(verifyVisitorToken('another-secret-0123456789abcdefghij', token)).toBeNull();
    const [v, , sig] = token.split('.');
    const other = Buffer.from(JSON.stringify({ s: 'pk_test', v: 'v_1', c: 'c_2', i: 1, x: 9e9 })).toString('base64url');
    expect(verifyVisitorToken(SECRET, `${v}.${other}.${sig}`)).toBeNull();
    expect(verifyVisitorToken(SECRET, `${token}x`)).toBeNull();
    expect(verifyVisitorToken(SECRET, 'v1..')).toBeNull();
    expect(verifyVisitorToken(SECRET, '')).toBeNull();
  });

  test('only the canonical spelling verifies: no padding, whitespace, standard base64 or stray bits', () => {
    const token = signVisitorToken(SECRET, claims);
    expect(verifyVisitorToken(SECRET, token)).not.toBeNull();
    const [v, payload, sig] = token.split('.') as [string, string, string];
    // The MAC's last character carries 2 unused bits: flipping them decodes to the same bytes.
    const last = sig.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBytes = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(sig.slice(0, -1) + sameBytes, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    const variants = [
      `${token}=`,
      `${token} `,
      ` ${token}`,
      `${token}\n`,
      `${v}.${payload}=.${sig}`,
      `${v}.${payload}.${sig.slice(0, -1)}${sameBytes}`,
      `${v}.${payload.replace(/-/g, '+').replace(/_/g, '/')}.${sig.replace(/-/g, '+').replace(/_/g, '/')}`,
      `V1.${payload}.${sig}`,
    ].filter((t) => t !== token);
    expect(variants.length).toBeGreaterThanOrEqual(7);
    for (const variant of variants) expect([variant, verifyVisitorToken(SECRET, variant)]).toEqual([variant, null]);
  });

  test('a token expires after its lifetime; a token without an expiry is refused', () => {
    const token = signVisitorToken(SECRET, claims, { now: () => NOW, ttlMs: 3_600_000 });
    expect(verifyVisitorToken(SECRET, token, at(NOW + 3_599_000))).not.toBeNull();
    expect(verifyVisitorToken(SECRET, token, at(NOW + 3_600_000))).toBeNull();
    // The shape tokens had before they carried times.
    const payload = Buffer.from(JSON.stringify({ s: 'pk_test', v: 'v_1', c: 'c_1' })).toString('base64url');
    const { createHmac } = require('node:crypto') as typeof import('node:crypto');
    const sig = createHmac('sha256', SECRET).update(`v1.${payload}`).digest('base64url');
    expect(verifyVisitorToken(SECRET, `v1.${payload}.${sig}`)).toBeNull();
  });

  test('during a rotation both secrets verify and the new one signs', () => {
    const old = new VisitorTokens({ secrets: SECRET, now: () => NOW });
    const rotating = new VisitorTokens({ secrets: [NEW_SECRET, SECRET], now: () => NOW });
    const after = new VisitorTokens({ secrets: NEW_SECRET, now: () => NOW });
    const oldToken = old.sign(claims);
    expect(rotating.verify(oldToken)).toMatchObject(claims);
    const renewed = rotating.sign(claims);
    expect(verifyVisitorToken(NEW_SECRET, renewed, at(NOW))).toMatchObject(claims);
    expect(verifyVisitorToken(SECRET, renewed, at(NOW))).toBeNull();
    expect(after.verify(oldToken)).toBeNull();
    expect(after.verify(renewed)).toMatchObject(claims);
  });
});

describe('visitor tokens on the relay', () => {
  test('every welcome renews the token; an expired one is refused with TOKEN_INVALID; a rotation keeps visitors in their conversation', async () => {
    let clock = NOW;
    const backend = await startBackend();
    const relays: Array<{ close: () => Promise<void> }> = [];
    try {
      const first = await startRelay(testConfig(backend.url, { tokenTtlDays: 1 }), { now: () => clock });
      relays.push(first);
      const a = await TestClient.open(first.wsUrl);
      const welcome = await a.hello();
      a.send({ t: 'send', id: 'm_1', body: { type: 'text', text: 'hello' } });
      await a.take('ack');
      a.close();

      // 20 hours later the visitor comes back: the token is renewed for another day.
      clock += 20 * 3600_000;
      const b = await TestClient.open(first.wsUrl);
      const back = await b.hello({ token: welcome.token, lastSeq: 0 });
      expect(back.conversationId).toBe(welcome.conversationId);
      expect(back.token).not.toBe(welcome.token);
      b.close();

      // 30 hours after the first visit the first token has expired; the renewed one has not.
      clock += 10 * 3600_000;
      const c = await TestClient.open(first.wsUrl);
      c.send({ t: 'hello', v: 1, siteKey: 'pk_test', token: welcome.token });
      expect(await c.take('error')).toMatchObject({ code: 'TOKEN_INVALID' });
      expect((await c.waitClosed()).code).toBe(CLOSE.TOKEN_INVALID);
      const d = await TestClient.open(first.wsUrl);
      expect((await d.hello({ token: back.token })).conversationId).toBe(welcome.conversationId);
      d.close();
      await first.close();
      relays.pop();

      // The operator rotates: the new secret first, the old one still listed. Same engine state is
      // not needed to check the token itself: the relay accepts it and signs the next with the new secret.
      const rotated = await startRelay(testConfig(backend.url, { tokenTtlDays: 1, tokenSecret: [NEW_SECRET, 'token-secret-for-tests-0123456789abcdef'] }), { now: () => clock });
      relays.push(rotated);
      const e = await TestClient.open(rotated.wsUrl);
      const renewed = await e.hello({ token: back.token });
      expect(verifyVisitorToken(NEW_SECRET, renewed.token, { now: () => clock })).toMatchObject({ visitorId: back.visitorId });
      e.close();
    } finally {
      for (const r of relays) await r.close();
      await backend.close();
    }
  });
});

describe('revoking visitor tokens', () => {
  test('POST /v1/visitors/:id/revoke refuses that visitor’s tokens issued until now; later tokens and other visitors are untouched', async () => {
    let clock = NOW;
    const backend = await startBackend();
    const relay = await startRelay(testConfig(backend.url), { now: () => clock });
    try {
      const a = await TestClient.open(relay.wsUrl);
      const revoked = await a.hello();
      a.close();
      const b = await TestClient.open(relay.wsUrl);
      const kept = await b.hello();
      b.close();

      clock += 2000;
      const res = await relay.api('POST', `/v1/visitors/${revoked.visitorId}/revoke`);
      expect(res).toEqual({ status: 200, json: { visitorId: revoked.visitorId, revokedAt: clock } });
      // The same through @parley/backend.
      const sdk = createRelayClient({ url: relay.base, apiSecret: API_SECRET });
      expect(await sdk.revokeVisitor(revoked.visitorId)).toEqual({ visitorId: revoked.visitorId, revokedAt: clock });
      // Another site cannot revoke this site's visitors (it names a visitor of its own, which does not exist).
      expect((await relay.api('POST', `/v1/visitors/${kept.visitorId}/revoke`, undefined, API_SECRET_2)).status).toBe(200);

      clock += 2000;
      const again = await TestClient.open(relay.wsUrl);
      again.send({ t: 'hello', v: 1, siteKey: 'pk_test', token: revoked.token });
      expect(await again.take('error')).toMatchObject({ code: 'TOKEN_INVALID' });
      expect((await again.waitClosed()).code).toBe(CLOSE.TOKEN_INVALID);
      const other = await TestClient.open(relay.wsUrl);
      expect((await other.hello({ token: kept.token })).visitorId).toBe(kept.visitorId);
      other.close();
      expect((await relay.api('POST', '/v1/visitors/not%20an%20id/revoke')).status).toBe(404);
    } finally {
      await relay.close();
      await backend.close();
    }
  });

  test('a site with its own tokenSecret: replacing it signs out that site’s visitors only', async () => {
    const backend = await startBackend();
    const siteSecret = 'site-token-secret-one-0123456789abcdef';
    const base = testConfig(backend.url);
    const config = (secret: string) => ({ ...base, sites: base.sites.map((s, i) => (i === 0 ? { ...s, tokenSecret: secret } : s)) });
    const first = await startRelay(config(siteSecret));
    const a = await TestClient.open(first.wsUrl);
    const mine = await a.hello();
    const o = await TestClient.open(first.wsUrl);
    o.send({ t: 'hello', v: 1, siteKey: 'pk_other' });
    const theirs = await o.take('welcome');
    a.close();
    o.close();
    expect(verifyVisitorToken(siteSecret, mine.token)).toMatchObject({ visitorId: mine.visitorId });
    expect(verifyVisitorToken(SECRET, theirs.token)).toMatchObject({ visitorId: theirs.visitorId });
    await first.close();

    const second = await startRelay(config('site-token-secret-two-0123456789abcdef'));
    try {
      const a2 = await TestClient.open(second.wsUrl);
      a2.send({ t: 'hello', v: 1, siteKey: 'pk_test', token: mine.token });
      expect(await a2.take('error')).toMatchObject({ code: 'TOKEN_INVALID' });
      const o2 = await TestClient.open(second.wsUrl);
      o2.send({ t: 'hello', v: 1, siteKey: 'pk_other', token: theirs.token });
      expect(await o2.take('welcome')).toMatchObject({ visitorId: theirs.visitorId });
      o2.close();
    } finally {
      await second.close();
      await backend.close();
    }
  });
});
