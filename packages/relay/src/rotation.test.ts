import { afterEach, describe, expect, test } from 'vitest';
import { verifyWebhook } from '@parley/backend';
import { hmacSha256Hex } from '@parley/protocol';
import { API_SECRET, IDENTITY_SECRET, TestClient, WEBHOOK_SECRET, startBackend, startRelay, testConfig } from './test-support/harness.js';
import type { RelayConfigInput } from './config.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const NEW_WEBHOOK_SECRET = 'whsec_' + Buffer.from('rotated-webhook-secret-32-bytes!').toString('base64');
const NEW_API_SECRET = 'api_secret_rotated_0123456789';
const NEW_IDENTITY_SECRET = 'identity_secret_rotated_0123456789';
const API_SECRET_OF_OTHER = 'api_secret_of_other_site_0123';

/** The test config with the first site's secrets replaced. */
function withSecrets(url: string, secrets: { webhookSecret?: string | string[]; apiSecret?: string | string[]; identitySecret?: string | string[] }): RelayConfigInput {
  const base = testConfig(url);
  return { ...base, sites: base.sites.map((s, i) => (i === 0 ? { ...s, ...secrets } : s)) };
}

describe('zero-downtime secret rotation', () => {
  test('during a rotation every webhook carries a signature per secret; a backend with either secret verifies it', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const relay = await startRelay(withSecrets(backend.url, { webhookSecret: [NEW_WEBHOOK_SECRET, WEBHOOK_SECRET] }));
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hi' } });
    const [started] = await backend.waitFor(2);
    const signatures = String(started!.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    for (const sig of signatures) expect(sig).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    for (const secret of [WEBHOOK_SECRET, NEW_WEBHOOK_SECRET]) {
      expect((await verifyWebhook(secret, started!.headers as Record<string, string>, started!.raw)).ok).toBe(true);
    }
    const stranger = 'whsec_' + Buffer.from('some-other-webhook-secret-32byte').toString('base64');
    expect(await verifyWebhook(stranger, started!.headers as Record<string, string>, started!.raw)).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_SIGNATURE' });
  });

  test('both API secrets are accepted until the old one is removed', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const rotating = await startRelay(withSecrets(backend.url, { apiSecret: [NEW_API_SECRET, API_SECRET] }));
    expect((await rotating.api('GET', '/v1/conversations', undefined, API_SECRET)).status).toBe(200);
    expect((await rotating.api('GET', '/v1/conversations', undefined, NEW_API_SECRET)).status).toBe(200);
    await rotating.close();
    const after = await startRelay(withSecrets(backend.url, { apiSecret: NEW_API_SECRET }));
    cleanups.push(after.close);
    expect((await after.api('GET', '/v1/conversations', undefined, NEW_API_SECRET)).status).toBe(200);
    expect((await after.api('GET', '/v1/conversations', undefined, API_SECRET)).status).toBe(401);
  });

  test('identity signatures made with either identity secret verify during a rotation', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    const relay = await startRelay(withSecrets(backend.url, { identitySecret: [NEW_IDENTITY_SECRET, IDENTITY_SECRET] }));
    cleanups.push(relay.close);
    for (const secret of [IDENTITY_SECRET, NEW_IDENTITY_SECRET]) {
      const c = await TestClient.open(relay.wsUrl);
      cleanups.push(() => c.close());
      const w = await c.hello({ identity: { userId: 'user-9', signature: await hmacSha256Hex(secret, 'user-9') } });
      expect(w.identity).toEqual({ userId: 'user-9', verified: true });
    }
  });

  test('API secrets must differ between sites, old ones included', async () => {
    const { parseConfig } = await import('./config.js');
    const base = testConfig('http://127.0.0.1:9/hook');
    const sites = base.sites.map((s, i) => (i === 1 ? { ...s, apiSecret: [API_SECRET_OF_OTHER, API_SECRET] } : s));
    expect(() => parseConfig({ ...base, sites })).toThrow(/apiSecret.*must differ between sites|must differ between sites/);
  });
});
