import WebSocket from 'ws';
import { afterEach, describe, expect, test } from 'vitest';
import { connectRelay } from '@parley/backend';
import { verifyWebhookSignature, type ErrorFrame, type UploadTargetFrame } from '@parley/protocol';
import { parseConfig, type RelayConfigInput } from './config.js';
import { API_SECRET, ORIGIN, TestClient, WEBHOOK_SECRET, messageOf, startBackend, startRelay, testConfig, type BackendAnswer, type Recorded } from './test-support/harness.js';

// Attachments over real sockets: a visitor asks for an upload target, the relay checks the site's
// allowance and asks the recording backend (`upload.requested`), and answers the widget.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FILES = 'https://files.shop.example';
const UPLOADS = { maxBytes: 10 * 1024 * 1024, types: ['image/*', 'application/pdf'], hosts: [FILES], timeoutMs: 300 };
const PNG = { name: 'shoe.png', size: 120_000, mime: 'image/png' };
const TARGET = {
  url: `${FILES}/uploads`,
  method: 'POST',
  fields: { key: 'u/1/shoe.png', Policy: 'eyJjb25kaXRpb25zIjpbXX0=' },
  fileUrl: `${FILES}/u/1/shoe.png`,
  maxBytes: 5 * 1024 * 1024,
};

function withUploads(webhookUrl: string, site: Record<string, unknown> = {}): RelayConfigInput {
  const base = testConfig(webhookUrl);
  return { ...base, sites: base.sites!.map((s, i) => (i === 0 ? { ...s, uploads: UPLOADS, ...site } : s)) };
}

/** A relay whose pk_test site takes uploads, and a backend answering `upload.requested` with `answer`. */
async function setup(answer: (req: Recorded) => BackendAnswer, site: Record<string, unknown> = {}) {
  const backend = await startBackend((req) => (req.json.type === 'upload.requested' ? answer(req) : { status: 204 }));
  cleanups.push(backend.close);
  const relay = await startRelay(withUploads(backend.url, site));
  cleanups.push(relay.close);
  const visitor = async (siteKey = 'pk_test') => {
    const c = await TestClient.open(relay.wsUrl, siteKey === 'pk_test' ? ORIGIN : 'https://any.example');
    cleanups.push(() => c.close());
    const welcome = await c.hello({ siteKey });
    return { c, welcome };
  };
  const uploads = () => backend.received.filter((r) => r.json.type === 'upload.requested');
  return { backend, relay, visitor, uploads };
}

const answerOf = (c: TestClient, id: string) => c.take((f) => (f.t === 'upload' || f.t === 'error') && f.id === id) as Promise<UploadTargetFrame | ErrorFrame>;

describe('upload targets', () => {
  test('the widget gets the target its backend answered, signed and asked once, within the site allowance', async () => {
    const { backend, visitor, uploads } = await setup(() => ({ status: 200, body: { upload: TARGET } }));
    const { c, welcome } = await visitor();
    c.send({ t: 'upload', id: 'up1', ...PNG });
    const answer = await answerOf(c, 'up1');
    expect(answer).toEqual({
      t: 'upload',
      id: 'up1',
      url: `${FILES}/uploads`,
      method: 'POST',
      fields: [
        { name: 'key', value: 'u/1/shoe.png' },
        { name: 'Policy', value: 'eyJjb25kaXRpb25zIjpbXX0=' },
      ],
      fileUrl: `${FILES}/u/1/shoe.png`,
      // The backend's narrower limit wins; the site's types stand when the backend names none.
      maxBytes: 5 * 1024 * 1024,
      types: ['image/*', 'application/pdf'],
    });
    expect(uploads()).toHaveLength(1);
    const hook = uploads()[0]!;
    expect(hook.json).toMatchObject({ type: 'upload.requested', siteKey: 'pk_test', conversationId: welcome.conversationId, visitor: { id: welcome.visitorId }, data: PNG });
    const h = hook.headers as Record<string, string>;
    expect(await verifyWebhookSignature(WEBHOOK_SECRET, h, hook.raw)).toEqual({ ok: true });
    // Nothing was queued: no other webhook followed.
    await new Promise((r) => setTimeout(r, 150));
    expect(backend.received.map((r) => r.json.type)).toEqual(['upload.requested']);
  });

  test('a file too large, of a type the site does not take, or on a site without uploads is refused without asking the backend or storing anything', async () => {
    const { relay, visitor, uploads } = await setup(() => ({ status: 200, body: { upload: TARGET } }));
    const { c } = await visitor();
    c.send({ t: 'upload', id: 'big', ...PNG, size: UPLOADS.maxBytes + 1 });
    c.send({ t: 'upload', id: 'exe', name: 'setup.exe', size: 10, mime: 'application/x-msdownload' });
    expect(await answerOf(c, 'big')).toMatchObject({ t: 'error', code: 'UPLOAD_TOO_LARGE', id: 'big' });
    expect(await answerOf(c, 'exe')).toMatchObject({ t: 'error', code: 'UPLOAD_TYPE', id: 'exe' });
    const other = await visitor('pk_other');
    other.c.send({ t: 'upload', id: 'no', ...PNG });
    expect(await answerOf(other.c, 'no')).toMatchObject({ t: 'error', code: 'UPLOAD_REFUSED', id: 'no' });
    expect(uploads()).toEqual([]);
    expect((await relay.api('GET', '/v1/conversations')).json.items).toEqual([]);
  });

  test('a target or file URL off the upload hosts, or plain http off localhost, is refused', async () => {
    const targets = [
      { ...TARGET, url: 'https://evil.example/uploads' },
      { ...TARGET, fileUrl: 'https://evil.example/shoe.png' },
      { ...TARGET, url: 'http://files.shop.example/uploads' },
    ];
    let n = 0;
    const { visitor } = await setup(() => ({ status: 200, body: { upload: targets[n++] } }));
    const { c } = await visitor();
    for (let i = 0; i < targets.length; i++) {
      c.send({ t: 'upload', id: `t${i}`, ...PNG });
      expect(await answerOf(c, `t${i}`)).toMatchObject({ t: 'error', code: 'UPLOAD_REFUSED' });
    }
  });

  test('http is taken for a loopback upload host (development), and a 2xx without a target declines', async () => {
    const local = 'http://127.0.0.1:3001';
    let decline = false;
    const { visitor } = await setup(() => (decline ? { status: 204 } : { status: 200, body: { upload: { url: `${local}/uploads/tok`, method: 'PUT', headers: { 'content-type': 'image/png' }, fileUrl: `${local}/files/1/shoe.png` } } }), {
      uploads: { ...UPLOADS, hosts: [local] },
    });
    const { c } = await visitor();
    c.send({ t: 'upload', id: 'a', ...PNG });
    expect(await answerOf(c, 'a')).toMatchObject({ t: 'upload', method: 'PUT', headers: [{ name: 'content-type', value: 'image/png' }], fileUrl: `${local}/files/1/shoe.png` });
    decline = true;
    c.send({ t: 'upload', id: 'b', ...PNG });
    expect(await answerOf(c, 'b')).toMatchObject({ t: 'error', code: 'UPLOAD_REFUSED', message: 'The backend declined the upload.' });
  });

  test('a backend that fails, hangs or is unreachable gives UPLOAD_UNAVAILABLE within the timeout, asked once each', async () => {
    let mode: 'fail' | 'hang' = 'fail';
    const { visitor, uploads } = await setup(() => (mode === 'fail' ? { status: 500 } : { status: 200, body: { upload: TARGET }, delayMs: 5_000 }));
    const { c } = await visitor();
    c.send({ t: 'upload', id: 'f', ...PNG });
    expect(await answerOf(c, 'f')).toMatchObject({ t: 'error', code: 'UPLOAD_UNAVAILABLE', id: 'f' });
    mode = 'hang';
    c.send({ t: 'upload', id: 'h', ...PNG });
    // The backend would answer after 5 s; the site's timeoutMs is 300 ms.
    expect(await c.take((f) => f.t === 'error' && f.id === 'h', 2_000)).toMatchObject({ code: 'UPLOAD_UNAVAILABLE' });
    expect(uploads()).toHaveLength(2);

    const down = await startRelay(withUploads('http://127.0.0.1:9/webhooks/parley'));
    cleanups.push(down.close);
    const v = await TestClient.open(down.wsUrl);
    cleanups.push(() => v.close());
    await v.hello();
    v.send({ t: 'upload', id: 'd', ...PNG });
    expect(await v.take((f) => f.t === 'error' && f.id === 'd', 2_000)).toMatchObject({ code: 'UPLOAD_UNAVAILABLE' });
  });

  test('waiting for a target holds back none of the visitor’s other frames', async () => {
    const { visitor } = await setup(() => ({ status: 200, body: { upload: TARGET }, delayMs: 200 }));
    const { c } = await visitor();
    c.send({ t: 'upload', id: 'slow', ...PNG });
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'here is a photo' } });
    await c.take('ack');
    expect(c.frames.some((f) => f.t === 'upload')).toBe(false);
    await answerOf(c, 'slow');
  });

  test('a backend socket answers with the target in its ack', async () => {
    const sink = await startBackend();
    cleanups.push(sink.close);
    const relay = await startRelay(withUploads(sink.url, { backendSocket: 'only' }), { backendSocket: { waitMs: 20 } });
    cleanups.push(relay.close);
    const asked: unknown[] = [];
    const conn = connectRelay({
      url: relay.base,
      apiSecret: API_SECRET,
      createSocket: (url, headers) => new WebSocket(url, { headers }),
      onEvent: (event) => {
        if (event.type !== 'upload.requested') return;
        asked.push(event.data);
        return { upload: { url: `${FILES}/put/1`, method: 'PUT', fileUrl: `${FILES}/u/1/shoe.png`, types: ['image/png'] } };
      },
    });
    cleanups.push(() => conn.close());
    await new Promise<void>((resolve) => conn.on('connected', () => resolve()));
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    c.send({ t: 'upload', id: 'ws1', ...PNG });
    expect(await answerOf(c, 'ws1')).toEqual({ t: 'upload', id: 'ws1', url: `${FILES}/put/1`, method: 'PUT', fileUrl: `${FILES}/u/1/shoe.png`, maxBytes: UPLOADS.maxBytes, types: ['image/png'] });
    expect(asked).toEqual([PNG]);
    expect(sink.received).toEqual([]);
  });
});

describe('file messages', () => {
  test('a visitor file on an upload host is stored and reaches the backend; one on another host, too large or of another type is refused', async () => {
    const { backend, visitor } = await setup(() => ({ status: 204 }));
    const { c } = await visitor();
    const file = { type: 'file', ...PNG, url: `${FILES}/u/1/shoe.png` };
    const refused = [
      { ...file, url: 'https://evil.example/shoe.png' },
      { ...file, url: 'http://files.shop.example/u/1/shoe.png' },
      { ...file, size: UPLOADS.maxBytes + 1 },
      { ...file, mime: 'text/html' },
    ];
    refused.forEach((body, i) => c.send({ t: 'send', id: `bad${i}`, body }));
    const codes = [];
    for (let i = 0; i < refused.length; i++) codes.push(((await c.take((f) => f.t === 'error' && f.id === `bad${i}`)) as ErrorFrame).code);
    expect(codes).toEqual(['UPLOAD_REFUSED', 'UPLOAD_REFUSED', 'UPLOAD_TOO_LARGE', 'UPLOAD_TYPE']);
    c.send({ t: 'send', id: 'good', body: file });
    expect(await c.take('ack')).toMatchObject({ id: 'good' });
    const [hook] = await backend.waitFor((r) => r.some((h) => h.json.type === 'message.created'));
    const created = backend.received.find((h) => h.json.type === 'message.created')!;
    expect(hook).toBeDefined();
    expect(messageOf(created.json)).toMatchObject({ id: 'good', from: { role: 'visitor' }, body: file });
    expect(backend.received.filter((h) => h.json.type === 'message.created')).toHaveLength(1);
  });

  test('the public site config carries the allowance (not the hosts) only for a site with uploads', async () => {
    const { relay } = await setup(() => ({ status: 204 }));
    const config = await (await fetch(`${relay.base}/v1/sites/pk_test/config`, { headers: { origin: ORIGIN } })).json();
    expect(config.uploads).toEqual({ maxBytes: UPLOADS.maxBytes, types: UPLOADS.types });
    const other = await (await fetch(`${relay.base}/v1/sites/pk_other/config`, { headers: { origin: ORIGIN } })).json();
    expect(other.uploads).toBeUndefined();
  });
});

describe('the uploads config', () => {
  const site = (uploads: unknown) => {
    const base = testConfig('https://backend.example/hook');
    return { ...base, sites: [{ ...base.sites![0]!, uploads }] };
  };

  test('takes https hosts, http only on localhost, and MIME types or patterns', () => {
    const parsed = parseConfig(site({ types: ['image/*'], hosts: ['https://files.shop.example', 'http://localhost:3001'] }));
    expect(parsed.sites[0]!.uploads).toEqual({ maxBytes: 10 * 1024 * 1024, types: ['image/*'], hosts: ['https://files.shop.example', 'http://localhost:3001'], timeoutMs: 5000 });
    expect(() => parseConfig(site({ types: ['image/*'], hosts: ['http://files.shop.example'] }))).toThrow('sites.0.uploads.hosts.0: must be https (http only for localhost)');
    expect(() => parseConfig(site({ types: ['image/*'], hosts: ['https://files.shop.example/path'] }))).toThrow(/sites\.0\.uploads\.hosts\.0: must be an origin/);
    expect(() => parseConfig(site({ types: ['images'], hosts: ['https://files.shop.example'] }))).toThrow(/sites\.0\.uploads\.types\.0: must be a MIME type/);
  });
});
