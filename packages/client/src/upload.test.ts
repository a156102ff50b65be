// Attachments through the client, against a real relay and a recording backend that answers
// `upload.requested` with a target.
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { buildApp } from '@parley/relay';
import { createClient } from './client.js';
import type { ChatMessage, ParleyClient, SocketLike } from './types.js';
import { startRecordingServer } from '../../../test/support/recording-server.js';

const ORIGIN = 'https://shop.example';
const FILES = 'https://files.shop.example';
const UPLOADS = { maxBytes: 1_000_000, types: ['image/*'], hosts: [FILES] };
const TARGET = { url: `${FILES}/put/1`, method: 'PUT', headers: { 'content-type': 'image/png' }, fileUrl: `${FILES}/f/1/shoe.png` };

type Hook = { type: string; data: any };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const backend = await startRecordingServer<Hook>({
    record: ({ raw }) => JSON.parse(raw) as Hook,
    answer: (hook) => (hook.type === 'upload.requested' ? { status: 200, body: { upload: TARGET } } : { status: 204 }),
  });
  cleanups.push(backend.close);
  const app = buildApp(
    {
      tokenSecret: 'token-secret-for-client-tests-0123456789',
      engine: { type: 'memory' },
      logLevel: 'silent',
      sites: [
        {
          siteKey: 'pk_client',
          name: 'Client Test Shop',
          allowedOrigins: [ORIGIN],
          webhookUrl: `${backend.base}/hooks`,
          webhookSecret: 'whsec_' + Buffer.from('client-test-webhook-secret-32by!').toString('base64'),
          apiSecret: 'api_secret_client_tests_0123',
          uploads: UPLOADS,
        },
      ],
    },
    { logger: false, webhooks: { pollMs: 20 } },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const errors: string[] = [];
  const c = createClient({
    siteKey: 'pk_client',
    relayUrl: base,
    createSocket: (url) => new WebSocket(url, { origin: ORIGIN }) as unknown as SocketLike,
    storage: null,
  });
  c.on('error', (e) => errors.push(e.code));
  cleanups.push(() => c.disconnect());
  return { backend, c, errors };
}

const until = (fn: () => void) => vi.waitFor(fn, { timeout: 8000, interval: 10 });
const mine = (c: ParleyClient, m: ChatMessage) => c.getSnapshot().timeline.find((i) => i.id === m.id) as ChatMessage | undefined;

describe('attachments through the client', () => {
  test('the site config tells what the site takes; a target is asked over the open connection; the file message is acked', async () => {
    const { backend, c, errors } = await setup();
    expect(c.getSnapshot().uploads).toBeNull();
    c.prepare();
    await until(() => expect(c.getSnapshot().uploads).toEqual({ maxBytes: 1_000_000, types: ['image/*'] }));
    expect(c.getSnapshot().state).toBe('idle');
    // Not connected: refused at once, never left waiting.
    await expect(c.requestUpload({ name: 'shoe.png', size: 1234, mime: 'image/png' })).rejects.toMatchObject({ code: 'UPLOAD_UNAVAILABLE' });
    c.connect();
    await until(() => expect(c.getSnapshot().state).toBe('open'));
    const target = await c.requestUpload({ name: 'shoe.png', size: 1234, mime: 'image/png' });
    expect(target).toMatchObject({ t: 'upload', url: TARGET.url, method: 'PUT', headers: [{ name: 'content-type', value: 'image/png' }], fileUrl: TARGET.fileUrl, maxBytes: 1_000_000, types: ['image/*'] });
    expect(backend.received.filter((h) => h.type === 'upload.requested').map((h) => h.data)).toEqual([{ name: 'shoe.png', size: 1234, mime: 'image/png' }]);
    const m = c.sendFile({ name: 'shoe.png', size: 1234, mime: 'image/png', url: target.fileUrl });
    await until(() => expect(mine(c, m)?.status).toBe('sent'));
    expect(mine(c, m)?.body).toEqual({ type: 'file', name: 'shoe.png', size: 1234, mime: 'image/png', url: TARGET.fileUrl });
    expect(errors).toEqual([]);
  });

  test('a refusal rejects with its code, and leaves the timeline and the error events alone', async () => {
    const { c, errors } = await setup();
    c.connect();
    await until(() => expect(c.getSnapshot().state).toBe('open'));
    await expect(c.requestUpload({ name: 'a.pdf', size: 10, mime: 'application/pdf' })).rejects.toMatchObject({ code: 'UPLOAD_TYPE' });
    await expect(c.requestUpload({ name: 'b.png', size: 2_000_000, mime: 'image/png' })).rejects.toMatchObject({ code: 'UPLOAD_TOO_LARGE' });
    expect(c.getSnapshot().timeline).toEqual([]);
    expect(errors).toEqual([]);
  });

  test('a request whose answer is lost with the connection is refused, not left waiting', async () => {
    const { c, errors } = await setup();
    c.connect();
    await until(() => expect(c.getSnapshot().state).toBe('open'));
    const asked = c.requestUpload({ name: 'shoe.png', size: 1234, mime: 'image/png' });
    c.disconnect(); // before the relay can answer
    await expect(asked).rejects.toMatchObject({ code: 'UPLOAD_UNAVAILABLE' });
    expect(errors).toEqual([]);
  });

  test('a file on a host the site does not allow fails as a message', async () => {
    const { c, errors } = await setup();
    const m = c.sendFile({ name: 'x.png', size: 10, mime: 'image/png', url: 'https://elsewhere.example/x.png' });
    c.connect();
    await until(() => expect(mine(c, m)?.status).toBe('failed'));
    expect(errors).toContain('UPLOAD_REFUSED');
  });
});
