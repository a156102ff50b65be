import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { startDemoBackend, type DemoBackend } from './demo-backend.js';
import { API_SECRET, WEBHOOK_SECRET, deliver, startFakeRelay, visitorMessage, webhookEvent, type FakeRelay } from './test-support.js';

// The demo backend's file store: it answers `upload.requested` with a one-time PUT URL on its own
// server, checks size and type again when the bytes arrive, and serves files back safely.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(120, 7)]);
const PDF = Buffer.from('%PDF-1.7\n% a tiny test document\n');

async function setup(dataDir: string | null = null): Promise<{ backend: DemoBackend; relay: FakeRelay }> {
  const relay = await startFakeRelay();
  cleanups.push(relay.close);
  const backend = await startDemoBackend({
    port: 0,
    relayUrl: relay.url,
    apiSecret: API_SECRET,
    webhookSecret: WEBHOOK_SECRET,
    log: () => {},
    dataDir,
    uploads: { maxBytes: 1000 },
  });
  cleanups.push(() => backend.close());
  return { backend, relay };
}

/** Ask for a target the way the relay does: a signed `upload.requested` webhook. */
async function ask(backend: DemoBackend, file: { name: string; size: number; mime: string }) {
  return deliver(backend.url, webhookEvent('upload.requested', 'conv_1', file));
}

describe('upload targets from the demo store', () => {
  test('answers with a one-time PUT URL on its own origin; the file uploaded there is served back as itself', async () => {
    const { backend } = await setup();
    const { status, reply } = await ask(backend, { name: 'shoe photo.png', size: PNG.byteLength, mime: 'image/png' });
    expect(status).toBe(200);
    const { upload } = reply;
    expect(upload).toMatchObject({ method: 'PUT', headers: { 'content-type': 'image/png' }, maxBytes: 1000, types: ['image/png'] });
    expect(new URL(upload.url).origin).toBe(backend.uploadOrigin);
    expect(upload.fileUrl).toMatch(new RegExp(`^${backend.url}/files/[\\w-]{22}/shoe%20photo\\.png$`));

    // The browser's preflight, then the PUT.
    const preflight = await fetch(upload.url, { method: 'OPTIONS', headers: { origin: 'http://shop.example', 'access-control-request-method': 'PUT' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('PUT');
    const put = await fetch(upload.url, { method: 'PUT', headers: { 'content-type': 'image/png', origin: 'http://shop.example' }, body: PNG });
    expect(put.status).toBe(201);
    expect(put.headers.get('access-control-allow-origin')).toBe('*');

    const file = await fetch(upload.fileUrl);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    expect(file.headers.get('content-disposition')).toBe("inline; filename*=UTF-8''shoe%20photo.png");
    expect(file.headers.get('content-security-policy')).toContain('sandbox');
    expect(Buffer.from(await file.arrayBuffer()).equals(PNG)).toBe(true);

    // The URL was good once.
    const again = await fetch(upload.url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: PNG });
    expect(again.status).toBe(404);
  });

  test('declines a file too large or of a type it does not take, with a 2xx and no target', async () => {
    const { backend } = await setup();
    expect(await ask(backend, { name: 'big.png', size: 1001, mime: 'image/png' })).toEqual({ status: 204, reply: null });
    expect(await ask(backend, { name: 'page.html', size: 10, mime: 'text/html' })).toEqual({ status: 204, reply: null });
  });

  test('checks again when the bytes arrive: the size, the declared type, and that the bytes are of it', async () => {
    const { backend } = await setup();
    const target = async (mime = 'image/png') => (await ask(backend, { name: 'x', size: 10, mime })).reply.upload;
    const put = async (url: string, type: string, body: Buffer<ArrayBuffer>) => (await fetch(url, { method: 'PUT', headers: { 'content-type': type }, body })).status;
    // Claimed 10 bytes, sent 1,200: the store's limit holds.
    expect(await put((await target()).url, 'image/png', Buffer.concat([PNG, Buffer.alloc(1100)]))).toBe(413);
    // Asked for a PNG, sent as HTML.
    expect(await put((await target()).url, 'text/html', PNG)).toBe(415);
    // Sent as a PNG, but the bytes are a script.
    const fake = await target();
    expect(await put(fake.url, 'image/png', Buffer.from('<script>alert(1)</script>'))).toBe(415);
    expect((await fetch(fake.fileUrl)).status).toBe(404);
    // An unknown upload URL.
    expect(await put(`${backend.url}/uploads/${'x'.repeat(32)}`, 'image/png', PNG)).toBe(404);
  });

  test('a file that is not an image is served as a download', async () => {
    const { backend } = await setup();
    const { upload } = (await ask(backend, { name: 'invoice.pdf', size: PDF.byteLength, mime: 'application/pdf' })).reply;
    expect((await fetch(upload.url, { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: PDF })).status).toBe(201);
    const file = await fetch(upload.fileUrl);
    expect(file.headers.get('content-type')).toBe('application/pdf');
    expect(file.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''invoice.pdf");
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
  });

  test('keeps files under the data folder; the agent attaches one from the console and it is sent as the agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-demo-data-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { backend, relay } = await setup(dir);
    // A conversation the desk knows.
    await deliver(backend.url, visitorMessage('conv_9', { type: 'text', text: 'hello' }));
    const res = await fetch(`${backend.url}/console/api/conversations/conv_9/files`, {
      method: 'POST',
      headers: { 'content-type': 'image/png', 'x-file-name': encodeURIComponent('label ✓.png') },
      body: PNG,
    });
    expect(res.status).toBe(201);
    const sent = relay.messages('conv_9').find((m) => m.body.type === 'file');
    expect(sent).toMatchObject({ from: { role: 'agent' }, body: { type: 'file', name: 'label ✓.png', size: PNG.byteLength, mime: 'image/png' } });
    expect((await fetch(sent.body.url)).headers.get('content-type')).toBe('image/png');
    expect(readdirSync(join(dir, 'uploads')).filter((f) => !f.endsWith('.json'))).toHaveLength(1);
    // Not an image the demo can check: refused, nothing sent.
    const refused = await fetch(`${backend.url}/console/api/conversations/conv_9/files`, { method: 'POST', headers: { 'content-type': 'image/svg+xml', 'x-file-name': 'x.svg' }, body: '<svg/>' });
    expect(refused.status).toBe(415);
    expect(relay.messages('conv_9').filter((m) => m.body.type === 'file')).toHaveLength(1);
  });
});
