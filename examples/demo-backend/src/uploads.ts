import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UploadTarget } from '@parley/backend';
import { sendError, sendJson } from './http.js';

// The demo's file storage, standing in for S3 or any object store: the relay never holds a file's
// bytes. For `upload.requested` it hands out a one-time PUT URL on this server; the browser sends
// the file there; the file is then served back from an unguessable URL. The limits are enforced
// again when the bytes arrive: a browser can claim any size and type when it asks.

export interface UploadStoreOptions {
  /** Folder for the files. Null: a fresh temporary folder, removed on `close()`. */
  dir: string | null;
  /** This server's base URL as browsers reach it: `http://127.0.0.1:3001`. */
  publicUrl: string;
  /** Largest file taken, in bytes. */
  maxBytes: number;
  /** MIME types taken (exact types; the demo checks the bytes of each). */
  types: readonly string[];
  /** How long an upload URL stays good. Default 10 minutes. */
  ttlMs?: number;
  now?: () => number;
}

/** A file as a `file` message names it. */
interface StoredFile {
  type: 'file';
  name: string;
  size: number;
  mime: string;
  url: string;
}

export interface UploadStore {
  /** The answer to `upload.requested`: a one-time PUT target, or null to decline (too large, another type). */
  target(file: { name: string; size: number; mime: string }): UploadTarget | null;
  /** Keep a file the agent attached in the console; null when the limits refuse it. */
  save(name: string, mime: string, bytes: Buffer): Promise<StoredFile | null>;
  /** Serve `PUT|OPTIONS /uploads/:token` and `GET|HEAD /files/:id/:name`; false for any other request. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close(): Promise<void>;
}

/** The first bytes of each type the demo takes: a file whose bytes are not what it claims is refused. */
const SIGNATURES: Record<string, (b: Buffer) => boolean> = {
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/gif': (b) => b.subarray(0, 4).toString('latin1') === 'GIF8',
  'image/webp': (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  'application/pdf': (b) => b.subarray(0, 5).toString('latin1') === '%PDF-',
};

/** The MIME types the demo can check, and so takes. */
export const DEMO_UPLOAD_TYPES = Object.keys(SIGNATURES);

const ID_RE = /^[\w-]{22}$/;
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'PUT',
  'access-control-allow-headers': 'content-type',
  'access-control-max-age': '600',
};

interface Pending {
  id: string;
  name: string;
  mime: string;
  maxBytes: number;
  expires: number;
}

interface Meta {
  name: string;
  mime: string;
  size: number;
}

/** Start the store (its folder is made with the first file). */
export async function createUploadStore(options: UploadStoreOptions): Promise<UploadStore> {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  const own = options.dir === null;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'parley-demo-uploads-')));
  /** The folder, made with the first file. */
  const ready = () => mkdir(dir, { recursive: true });
  const base = options.publicUrl.replace(/\/+$/, '');
  const pending = new Map<string, Pending>();
  const newId = () => randomBytes(16).toString('base64url');
  const fileUrl = (id: string, name: string) => `${base}/files/${id}/${encodeURIComponent(name)}`;
  const takes = (mime: string) => options.types.includes(mime) && mime in SIGNATURES;

  async function keep(id: string, meta: Meta, tmp: string): Promise<void> {
    await writeFile(join(dir, `${id}.json`), JSON.stringify(meta));
    await rename(tmp, join(dir, id));
  }

  /** `PUT /uploads/:token`: the browser's upload, checked as it arrives. */
  async function receive(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    // The page that uploads is on another origin: every answer, refusals too, may be read by it.
    for (const [name, value] of Object.entries(CORS)) res.setHeader(name, value);
    const p = pending.get(token);
    if (!p || p.expires < now()) {
      pending.delete(token);
      return sendError(res, 404, 'NOT_FOUND', 'This upload URL is unknown, used or expired.');
    }
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== p.mime) return sendError(res, 415, 'UPLOAD_TYPE', `Send the file as ${p.mime}.`);
    if (Number(req.headers['content-length'] ?? 0) > p.maxBytes) return sendError(res, 413, 'UPLOAD_TOO_LARGE', `Files are limited to ${p.maxBytes} bytes.`);
    pending.delete(token); // one upload per URL, whatever happens next
    await ready();
    const tmp = join(dir, `${p.id}.part`);
    const out = createWriteStream(tmp);
    let size = 0;
    let head = Buffer.alloc(0);
    let tooLarge = false;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.byteLength;
        if (size > p.maxBytes) {
          tooLarge = true;
          break;
        }
        if (head.byteLength < 16) head = Buffer.concat([head, chunk.subarray(0, 16)]);
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
    } finally {
      await new Promise<void>((resolve) => out.end(() => resolve()));
    }
    if (tooLarge || !SIGNATURES[p.mime]!(head)) {
      await rm(tmp, { force: true });
      if (tooLarge) res.setHeader('connection', 'close');
      return tooLarge
        ? sendError(res, 413, 'UPLOAD_TOO_LARGE', `Files are limited to ${p.maxBytes} bytes.`)
        : sendError(res, 415, 'UPLOAD_TYPE', `The bytes are not a ${p.mime} file.`);
    }
    await keep(p.id, { name: p.name, mime: p.mime, size }, tmp);
    sendJson(res, 201, { url: fileUrl(p.id, p.name) });
  }

  /** `GET /files/:id/:name`: a stored file, never sniffed as another type; only images shown inline. */
  async function serve(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    let meta: Meta;
    try {
      meta = JSON.parse(await readFile(join(dir, `${id}.json`), 'utf8')) as Meta;
      await stat(join(dir, id));
    } catch {
      return sendError(res, 404, 'NOT_FOUND', 'No such file.');
    }
    const image = meta.mime.startsWith('image/');
    res.writeHead(200, {
      'content-type': meta.mime,
      'content-length': String(meta.size),
      'x-content-type-options': 'nosniff',
      // Opened on its own, a file can run nothing and reach nothing.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      'cross-origin-resource-policy': 'cross-origin',
      'cache-control': 'private, max-age=86400, immutable',
      'content-disposition': `${image ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(meta.name)}`,
    });
    if (req.method === 'HEAD') return void res.end();
    res.end(await readFile(join(dir, id)));
  }

  return {
    target(file) {
      if (file.size > options.maxBytes || !takes(file.mime)) return null;
      const token = randomBytes(24).toString('base64url');
      const id = newId();
      pending.set(token, { id, name: file.name, mime: file.mime, maxBytes: options.maxBytes, expires: now() + ttlMs });
      // Forget URLs never used.
      for (const [t, p] of pending) if (p.expires < now()) pending.delete(t);
      return {
        url: `${base}/uploads/${token}`,
        method: 'PUT',
        headers: { 'content-type': file.mime },
        fileUrl: fileUrl(id, file.name),
        maxBytes: options.maxBytes,
        types: [file.mime],
      };
    },

    async save(name, mime, bytes) {
      if (bytes.byteLength > options.maxBytes || !takes(mime) || !SIGNATURES[mime]!(bytes)) return null;
      const id = newId();
      const tmp = join(dir, `${id}.part`);
      await ready();
      await writeFile(tmp, bytes);
      await keep(id, { name, mime, size: bytes.byteLength }, tmp);
      return { type: 'file', name, size: bytes.byteLength, mime, url: fileUrl(id, name) };
    },

    async handle(req, res) {
      const path = new URL(req.url ?? '/', 'http://demo.local').pathname;
      const upload = /^\/uploads\/([\w-]{32})$/.exec(path);
      if (upload) {
        if (req.method === 'OPTIONS') res.writeHead(204, CORS).end();
        else if (req.method === 'PUT') await receive(req, res, upload[1]!);
        else sendError(res, 405, 'BAD_REQUEST', 'PUT the file here.');
        return true;
      }
      const file = /^\/files\/([^/]+)\/[^/]+$/.exec(path);
      if (file && (req.method === 'GET' || req.method === 'HEAD')) {
        if (!ID_RE.test(file[1]!)) sendError(res, 404, 'NOT_FOUND', 'No such file.');
        else await serve(req, res, file[1]!);
        return true;
      }
      return false;
    },

    async close() {
      pending.clear();
      if (own) await rm(dir, { recursive: true, force: true });
    },
  };
}
