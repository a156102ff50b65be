// @vitest-environment happy-dom
import type { UploadTargetFrame } from '@parley/protocol';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fakeClient, msg } from '../test/fake-client.js';
import { mount } from './mount.js';
import type { WidgetHandle } from './options.js';

// Attachments in the widget: the attach button, the checks stated plainly, the upload straight
// to the target with progress, then the `file` message; pasted and dropped files; previews.

/** A stand-in for XMLHttpRequest: records each upload; the test answers it. */
class FakeXhr {
  static all: FakeXhr[] = [];
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown;
  status = 0;
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: unknown) {
    this.body = body;
    FakeXhr.all.push(this);
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total });
  }
  finish(status: number) {
    this.status = status;
    this.onload?.();
  }
}

const UPLOADS = { maxBytes: 1024 * 1024, types: ['image/*', 'application/pdf'] };
const PUT: UploadTargetFrame = {
  t: 'upload',
  id: 'u1',
  url: 'https://files.shop.example/put/1',
  method: 'PUT',
  headers: [{ name: 'x-upload-token', value: 'tok' }],
  fileUrl: 'https://files.shop.example/f/1/shoe.png',
  maxBytes: UPLOADS.maxBytes,
  types: UPLOADS.types,
};

let handle: WidgetHandle | undefined;
beforeEach(() => {
  FakeXhr.all = [];
  vi.stubGlobal('XMLHttpRequest', FakeXhr);
});
afterEach(() => {
  handle?.destroy();
  handle = undefined;
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
});

function setup(patch: Parameters<typeof fakeClient>[0] = {}) {
  const client = fakeClient({ uploads: UPLOADS, ...patch });
  handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en-US', open: true });
  const root = document.querySelector('parley-chat')!.shadowRoot!;
  const input = () => root.querySelector<HTMLInputElement>('input[type=file]');
  /** The note above the composer, without the Unicode isolates around a filled-in value. */
  const note = () => root.querySelector('.n[role=status]')?.textContent?.replace(/[\u2068\u2069]/g, '').trim() ?? '';
  const calls = (name: string) => client.calls.filter((c) => c[0] === name).map((c) => c.slice(1));
  /** Pick files with the attach button, as the browser's file picker does. */
  const pick = (...files: File[]) => {
    const el = input()!;
    Object.defineProperty(el, 'files', { value: files, configurable: true });
    el.dispatchEvent(new Event('change', { bubbles: true }));
  };
  return { client, root, input, note, calls, pick };
}

const png = (bytes = 2048, name = 'shoe.png') => new File([new Uint8Array(bytes)], name, { type: 'image/png' });
const until = (fn: () => void) => vi.waitFor(fn, { timeout: 3000, interval: 5 });

describe('the attach button', () => {
  test('shows only for a site that takes files, labelled, accepting its types (the camera is the picker’s own choice)', () => {
    const off = setup({ uploads: null });
    expect(off.input()).toBeNull();
    handle!.destroy();
    const on = setup();
    const input = on.input()!;
    expect(input.getAttribute('aria-label')).toBe('Attach a file');
    expect(input.accept).toBe('image/*,application/pdf');
    expect(input.multiple).toBe(true);
    expect(input.hasAttribute('capture')).toBe(false);
  });
});

describe('uploading a picked file', () => {
  test('asks for a target, uploads straight to it with progress, then sends the file message', async () => {
    const w = setup();
    w.client.uploadAnswer = () => Promise.resolve(PUT);
    w.pick(png(2048));
    await until(() => expect(FakeXhr.all).toHaveLength(1));
    expect(w.calls('requestUpload')).toEqual([[{ name: 'shoe.png', size: 2048, mime: 'image/png' }]]);
    const xhr = FakeXhr.all[0]!;
    expect(xhr).toMatchObject({ method: 'PUT', url: PUT.url, headers: { 'x-upload-token': 'tok' } });
    expect((xhr.body as File).name).toBe('shoe.png');
    expect(w.note()).toBe('shoe.png');
    xhr.progress(1024, 2048);
    const bar = w.root.querySelector<HTMLProgressElement>('.n progress')!;
    expect(bar.getAttribute('aria-label')).toBe('shoe.png');
    expect(Number(bar.getAttribute('value') ?? bar.value)).toBe(0.5);
    expect(w.calls('sendFile')).toEqual([]);
    xhr.finish(200);
    await until(() => expect(w.calls('sendFile')).toEqual([[{ name: 'shoe.png', size: 2048, mime: 'image/png', url: PUT.fileUrl }]]));
    expect(w.root.querySelector('.n[role=status]')).toBeNull();
  });

  test('a POST target gets a form of its fields, the file last', async () => {
    const w = setup();
    w.client.uploadAnswer = () =>
      Promise.resolve({ ...PUT, method: 'POST', url: 'https://files.shop.example/', headers: undefined, fields: [{ name: 'key', value: 'u/1/shoe.png' }, { name: 'Policy', value: 'abc' }] });
    w.pick(png());
    await until(() => expect(FakeXhr.all).toHaveLength(1));
    const form = FakeXhr.all[0]!.body as FormData;
    expect(FakeXhr.all[0]!.method).toBe('POST');
    expect([...form.keys()]).toEqual(['key', 'Policy', 'file']);
    expect(form.get('key')).toBe('u/1/shoe.png');
    expect((form.get('file') as File).name).toBe('shoe.png');
    FakeXhr.all[0]!.finish(204);
    await until(() => expect(w.calls('sendFile')).toHaveLength(1));
  });

  test('a file too large or of another type is refused plainly, before anything is asked', async () => {
    const w = setup();
    w.pick(png(UPLOADS.maxBytes + 1));
    await until(() => expect(w.note()).toBe('This file is too large (max 1 MB).'));
    w.pick(new File(['MZ'], 'setup.exe', { type: 'application/x-msdownload' }));
    await until(() => expect(w.note()).toBe("This type of file can't be sent."));
    expect(w.calls('requestUpload')).toEqual([]);
    expect(FakeXhr.all).toEqual([]);
  });

  test('the backend may take less: its limit is stated, and nothing is uploaded', async () => {
    const w = setup();
    w.client.uploadAnswer = () => Promise.resolve({ ...PUT, maxBytes: 1024 });
    w.pick(png(2048));
    await until(() => expect(w.note()).toBe('This file is too large (max 1 kB).'));
    expect(FakeXhr.all).toEqual([]);
  });

  test('a refused or failed upload says so, and sends nothing', async () => {
    const w = setup();
    w.client.uploadAnswer = () => Promise.reject({ code: 'UPLOAD_UNAVAILABLE', message: 'down' });
    w.pick(png());
    await until(() => expect(w.note()).toBe('The file could not be sent.'));
    w.client.uploadAnswer = () => Promise.resolve(PUT);
    w.pick(png());
    await until(() => expect(FakeXhr.all).toHaveLength(1));
    FakeXhr.all[0]!.finish(403);
    await until(() => expect(w.note()).toBe('The file could not be sent.'));
    expect(w.calls('sendFile')).toEqual([]);
  });

  test('several files go one after another', async () => {
    const w = setup();
    w.client.uploadAnswer = (f) => Promise.resolve({ ...PUT, fileUrl: `https://files.shop.example/f/${f.name}` });
    w.pick(png(10, 'a.png'), png(10, 'b.png'));
    await until(() => expect(FakeXhr.all).toHaveLength(1));
    FakeXhr.all[0]!.finish(201);
    await until(() => expect(FakeXhr.all).toHaveLength(2));
    FakeXhr.all[1]!.finish(201);
    await until(() => expect(w.calls('sendFile').map(([f]) => (f as { url: string }).url)).toEqual(['https://files.shop.example/f/a.png', 'https://files.shop.example/f/b.png']));
  });
});

describe('pasted and dropped files', () => {
  /** An event as the browser fires it, carrying files in `clipboardData` or `dataTransfer`. */
  const withFiles = (type: string, key: 'clipboardData' | 'dataTransfer', files: File[]) => {
    const e = new Event(type, { bubbles: true, cancelable: true, composed: true });
    Object.defineProperty(e, key, { value: { files } });
    return e;
  };

  test('an image pasted into the composer is attached; pasted text is left to the text box', async () => {
    const w = setup();
    w.client.uploadAnswer = () => Promise.resolve(PUT);
    const box = w.root.querySelector('textarea')!;
    // The upload code loads when the attach button shows.
    await until(() => {
      const e = withFiles('paste', 'clipboardData', [png()]);
      box.dispatchEvent(e);
      expect(e.defaultPrevented).toBe(true);
    });
    await until(() => expect(w.calls('requestUpload')).toHaveLength(1));
    const text = withFiles('paste', 'clipboardData', []);
    box.dispatchEvent(text);
    expect(text.defaultPrevented).toBe(false);
  });

  test('a file dropped on the panel is attached', async () => {
    const w = setup();
    w.client.uploadAnswer = () => Promise.resolve(PUT);
    const log = w.root.querySelector('.m')!;
    await until(() => {
      const over = new Event('dragover', { bubbles: true, cancelable: true, composed: true });
      log.dispatchEvent(over);
      expect(over.defaultPrevented).toBe(true);
    });
    log.dispatchEvent(withFiles('drop', 'dataTransfer', [png(100, 'dropped.png')]));
    await until(() => expect(w.calls('requestUpload')).toEqual([[{ name: 'dropped.png', size: 100, mime: 'image/png' }]]));
  });
});

describe('file messages', () => {
  test('an image shows as a preview with its name as alt text, linked to the full size; another file as a link with its size', () => {
    const w = setup({
      timeline: [
        msg('visitor', { type: 'file', name: 'shoe.png', size: 2048, mime: 'image/png', url: 'https://files.shop.example/f/1/shoe.png' }),
        msg({ role: 'agent', name: 'Mia' }, { type: 'file', name: 'invoice.pdf', size: 150_000, mime: 'application/pdf', url: 'https://files.shop.example/f/2/invoice.pdf' }),
        msg('visitor', { type: 'file', name: 'x.png', size: 1, mime: 'image/png', url: 'javascript:alert(1)' }),
      ],
    });
    const img = w.root.querySelector<HTMLImageElement>('.m img')!;
    expect(img.getAttribute('src')).toBe('https://files.shop.example/f/1/shoe.png');
    expect(img.alt).toBe('shoe.png');
    expect(img.closest('a')!.getAttribute('href')).toBe('https://files.shop.example/f/1/shoe.png');
    expect(img.closest('a')!.getAttribute('rel')).toBe('noopener noreferrer');
    const pdf = [...w.root.querySelectorAll('.m a')].find((a) => a.textContent === 'invoice.pdf')!;
    expect(pdf.getAttribute('href')).toBe('https://files.shop.example/f/2/invoice.pdf');
    expect(pdf.parentElement!.textContent).toBe('invoice.pdf (147 KB)');
    // An unsafe URL is never an image nor a link.
    expect(w.root.querySelectorAll('.m img')).toHaveLength(1);
    expect([...w.root.querySelectorAll('.m a')].some((a) => a.getAttribute('href')?.startsWith('javascript'))).toBe(false);
  });
});
