// Attachments, loaded when the attach button first shows (upload-ui.tsx): the script-tag bundle
// does not carry this code, built as dist/parley-upload.js beside it; npm builds load it as a
// chunk of their own. A file goes straight from the browser to the site's storage (the target
// its backend gave), with progress, then a `file` message carries its URL. Nothing here renders:
// it sets the UI state (`note`, `p`) that the panel shows above the composer.
import { LIMITS, mimeAllowed, type UploadTargetFrame } from '@parley/protocol';
import type { ParleyClient } from '@parley/client';
import type { View } from './view.js';

const MB = 1024 * 1024;
/** Each client's attachments, one after another. */
const queues = new WeakMap<ParleyClient, Promise<void>>();
/** Shadow roots whose panel takes pasted and dropped files. */
const wired = new WeakSet<Node>();

/**
 * The attach button appeared (`el` is it), or files were picked (`el` is its input): from now on
 * the panel takes files pasted into it (a screenshot) or dropped on it; picked files are attached.
 */
export function upload(v: View, el: HTMLElement): void {
  const root = el.getRootNode();
  if (!wired.has(root)) {
    wired.add(root);
    const take = (e: Event, files: FileList | null | undefined) => {
      // Only on the open panel of a site that takes files; pasted text stays text.
      if (!files?.length || !v.c.getSnapshot().uploads || !(e.target as Element).closest?.('.p')) return;
      e.preventDefault();
      attach(v, files);
    };
    root.addEventListener('paste', (e) => take(e, (e as ClipboardEvent).clipboardData?.files));
    root.addEventListener('drop', (e) => take(e, (e as DragEvent).dataTransfer?.files));
    // A drop is allowed where the page's dragover is cancelled.
    root.addEventListener('dragover', (e) => v.c.getSnapshot().uploads && (e.target as Element).closest?.('.p') && e.preventDefault());
  }
  const input = el as HTMLInputElement;
  if (input.files?.length) {
    attach(v, input.files);
    input.value = ''; // the same file may be picked again
  }
}

/** Attach files one after another: check, ask for a target, upload, send. */
function attach(v: View, files: FileList): void {
  for (const file of [...files]) queues.set(v.c, (queues.get(v.c) || Promise.resolve()).then(() => one(v, file)));
}

async function one(v: View, file: File): Promise<void> {
  const { c, t } = v;
  const allowed = c.getSnapshot().uploads;
  if (!allowed) return;
  // The end of a long name is kept: it holds the extension.
  const name = [...(file.name || 'file')].slice(-LIMITS.maxShortLength).join('');
  const mime = file.type || 'application/octet-stream';
  const fail = (note: string) => v.set({ note, p: undefined });
  const tooBig = (maxBytes: number) => v.f(t.tooBig, { max: size(maxBytes, c.getSnapshot().lang?.locale) });
  /** The refusal of a file outside an allowance, stated plainly; '' when it fits. */
  const refusal = (maxBytes: number, types: string[]) => (file.size > maxBytes ? tooBig(maxBytes) : mimeAllowed(mime, types) ? '' : t.fileType);
  let err = refusal(allowed.maxBytes, allowed.types);
  if (err) return fail(err);
  v.set({ note: name, p: 0 });
  let target: UploadTargetFrame;
  try {
    target = await within(30_000, async () => {
      await connected(c);
      return c.requestUpload({ name, size: file.size, mime });
    });
  } catch (e) {
    // Refused by the relay (the site's config changed since the page loaded), or no target to be had.
    const code = (e as { code?: string }).code;
    return fail(code === 'UPLOAD_TYPE' ? t.fileType : code === 'UPLOAD_TOO_LARGE' ? tooBig(allowed.maxBytes) : t.upFail);
  }
  // The backend may take less than the site does.
  err = refusal(target.maxBytes, target.types);
  if (err) return fail(err);
  try {
    await put(target, file, (p) => v.set({ p }));
  } catch {
    return fail(t.upFail);
  }
  v.set({ note: '', p: undefined });
  c.sendFile({ name, size: file.size, mime, url: target.fileUrl });
}

/** Resolves once the client's connection is open, connecting it if need be. */
function connected(c: ParleyClient): Promise<void> {
  if (c.getSnapshot().state === 'open') return Promise.resolve();
  return new Promise((resolve) => {
    const off = c.on('state', ({ to }) => to === 'open' && (off(), resolve()));
    c.connect();
  });
}

/** `run()`, or a rejection after `ms`: an answer lost with a dropped connection never comes. */
function within<T>(ms: number, run: () => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(reject, ms);
    run().then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** `bytes` as the visitor's language writes megabytes (or kilobytes under one): "10 MB". */
function size(bytes: number, locale: string | undefined): string {
  const kb = bytes < MB;
  return new Intl.NumberFormat(locale, { style: 'unit', unit: kb ? 'kilobyte' : 'megabyte', maximumFractionDigits: 1 }).format(bytes / (kb ? 1024 : MB));
}

/** Upload `file` to the target: PUT as the body, or POST as the last part of a form. */
function put(target: UploadTargetFrame, file: File, progress: (p: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method, target.url);
    for (const h of target.headers || []) xhr.setRequestHeader(h.name, h.value);
    let body: Blob | FormData = file;
    if (target.method === 'POST') {
      body = new FormData();
      for (const f of target.fields || []) body.append(f.name, f.value);
      body.append('file', file);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded / e.total);
    xhr.onload = () => (xhr.status > 199 && xhr.status < 300 ? resolve() : reject());
    xhr.onerror = xhr.onabort = xhr.ontimeout = reject;
    xhr.send(body);
  });
}
