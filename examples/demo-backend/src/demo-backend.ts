import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { RelayError, createRelayClient, signIdentity, verifyWebhooks, type Sender, type WebhookReply } from '@parley/backend';
import { Desk, isGone } from './desk.js';
import { createDeskFileWriter, readDeskFile } from './desk-file.js';
import { readBody, sendError, sendJson } from './http.js';
import { parseOpenHours } from './open-hours.js';
import type { ConversationRecord, StoreEvent } from './store.js';
import { DEMO_UPLOAD_TYPES, createUploadStore, type UploadStore } from './uploads.js';

export interface DemoBackendOptions {
  /** Port to listen on; 0 picks a free one. Default 3001. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1: the console has no login. */
  host?: string;
  /** The relay's base URL. */
  relayUrl: string;
  /** The site's `apiSecret` (REST API bearer). */
  apiSecret: string;
  /** The site's `webhookSecret` (`whsec_…`): every webhook is verified with it. */
  webhookSecret: string;
  /** The site's `identitySecret`, for the demo shopper's identity signature. */
  identitySecret?: string;
  /** Opening hours, "09:00-18:00" in local time; null or absent means always open. */
  openHours?: string | null;
  /** The shop's base URL, for card images and links. Default http://127.0.0.1:5173. */
  shopUrl?: string;
  /** The agent who answers in the console. Default Mia. */
  agent?: Sender & { role: 'agent' };
  /** Clock, for tests. */
  now?: () => number;
  /** Fetch implementation for the relay client. */
  fetch?: typeof fetch;
  /** Log lines (never message text or secrets). Default: stdout. */
  log?: (line: string) => void;
  /** How often opening hours are re-checked. Default 30 s. */
  hoursCheckMs?: number;
  /**
   * A folder for the desk's state (conversations with their status and transcript, ratings,
   * left messages, handled webhook ids): `desk.json` there is loaded at start and saved after
   * every change. Null or absent: memory only, gone when the process stops.
   */
  dataDir?: string | null;
  /**
   * Who answers what the visitor types. `rules` (default): the FAQ bot's patterns, answered at
   * once. `ai`: the local AI answerer, streamed word by word with its sources; buttons still go
   * to the FAQ bot, and "human"/"agent" still asks for one.
   */
  bot?: 'rules' | 'ai';
  /** In `ai` mode, milliseconds between streamed words. Default 45. */
  aiWordMs?: number;
  /** In `ai` mode, the chunks an answer is streamed in (tests: a model that fails or stalls). Default: its words at `aiWordMs`. */
  aiWrite?: (text: string, signal: AbortSignal) => AsyncIterable<string>;
  /**
   * Attachments, kept on disk by this server (`uploads/` in `dataDir`, else a temporary folder):
   * `publicUrl` is where browsers reach this server (default its own URL), `maxBytes` the largest
   * file (default 10 MiB). `false` declines every upload.
   */
  uploads?: { publicUrl?: string; maxBytes?: number } | false;
}

export interface DemoBackend {
  url: string;
  /** The origin files are uploaded to and served from (put it in the site's `uploads.hosts` and the shop's CSP); null without uploads. */
  uploadOrigin: string | null;
  /** The webhook endpoint to put in the relay config. */
  webhookUrl: string;
  /** Resolves when background REST calls (queue positions, availability, AI answers) are done. */
  settled(): Promise<void>;
  /** Stop the AI answers being written: what they wrote is logged as incomplete. `close()` does it too. */
  stopAnswers(): void;
  close(): Promise<void>;
}

/** The shopper the demo signs in, to show a verified identity. */
const DEMO_SHOPPER = { userId: 'u_1001', name: 'Ana Demo', email: 'ana@example.com' };

const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' http: https:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const STATIC: Record<string, [file: string, type: string]> = {
  '/console': ['console.html', 'text/html; charset=utf-8'],
  '/console/': ['console.html', 'text/html; charset=utf-8'],
  '/console/console.js': ['console.js', 'text/javascript; charset=utf-8'],
  '/console/console.css': ['console.css', 'text/css; charset=utf-8'],
};

const publicDir = new URL('../public/', import.meta.url);

/** Start the demo merchant backend: the webhook endpoint, the FAQ bot and the agent console. */
export async function startDemoBackend(options: DemoBackendOptions): Promise<DemoBackend> {
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => console.log(`[demo-backend] ${line}`));
  const relay = createRelayClient({ url: options.relayUrl, apiSecret: options.apiSecret, fetch: options.fetch });
  const stateFile = options.dataDir ? join(options.dataDir, 'desk.json') : null;
  const desk = new Desk({
    relay,
    shopUrl: (options.shopUrl ?? 'http://127.0.0.1:5173').replace(/\/+$/, ''),
    agent: options.agent ?? { role: 'agent', id: 'agent_mia', name: 'Mia' },
    openHours: options.openHours ? parseOpenHours(options.openHours) : null,
    now,
    log,
    saved: stateFile ? readDeskFile(stateFile) : null,
    ai: options.bot === 'ai' ? { wordMs: options.aiWordMs ?? 45, ...(options.aiWrite ? { write: options.aiWrite } : {}) } : null,
  });
  const saver = stateFile
    ? createDeskFileWriter(stateFile, () => desk.snapshot(), { onError: (err) => log(`saving ${stateFile} failed: ${err.message}`) })
    : null;
  const maxUploadBytes = (options.uploads && options.uploads.maxBytes) || 10 * 1024 * 1024;
  /** Made once the server listens and knows its URL. */
  let uploads: UploadStore | null = null;
  const assets = Object.fromEntries(Object.entries(STATIC).map(([path, [file, type]]) => [path, { body: readFileSync(new URL(file, publicDir)), type }]));
  const streams = new Set<ServerResponse>();

  function consoleState() {
    const list = [...desk.store.conversations.values()];
    const order = { waiting: 0, agent: 1, bot: 2, closed: 3 } as const;
    list.sort((a, b) => order[a.status] - order[b.status] || (a.status === 'waiting' ? (a.waitingSince ?? 0) - (b.waitingSince ?? 0) : b.updatedAt - a.updatedAt));
    return {
      agent: desk.agent,
      availability: { online: desk.available, switchOn: desk.switchOn, openHours: options.openHours ?? null, relayKnows: desk.online },
      conversations: list.map((c) => summary(c, desk.store.positionOf(c))),
      ratings: desk.store.ratings,
      contacts: desk.store.contacts,
      feedback: desk.store.feedback,
    };
  }

  // Live updates for the console: the whole (small) state after any change, coalesced,
  // and each new transcript line as it arrives.
  let statePending = false;
  const broadcast = (name: string, data: unknown) => {
    const frame = `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of streams) res.write(frame);
  };
  const unsubscribe = desk.store.subscribe((e: StoreEvent) => {
    saver?.schedule();
    if (e.type === 'entry') return broadcast('entry', { conversationId: e.conversationId, entry: e.entry });
    if (statePending) return;
    statePending = true;
    setImmediate(() => {
      statePending = false;
      broadcast('state', consoleState());
    });
  });

  async function onWebhook(req: IncomingMessage, res: ServerResponse) {
    // One event, or a batch of up to 100 (a site with webhookBatch above 1).
    const raw = await readBody(req, 8 * 1024 * 1024);
    if (!raw) return sendError(res, 413, 'TOO_LARGE', 'The webhook body is too large.');
    const result = await verifyWebhooks(options.webhookSecret, req.headers, raw, { now: now() });
    if (!result.ok) {
      log(`webhook refused: ${result.code}`);
      return sendError(res, result.status, result.code, result.message);
    }
    const replies: Record<string, WebhookReply> = {};
    for (const event of result.events) {
      log(`webhook ${event.type} ${event.conversationId}`);
      if (event.type === 'upload.requested') {
        // The visitor waits: a target at once, or a 2xx without one to decline (never batched).
        const upload = uploads?.target(event.data);
        if (upload) replies[event.id] = { upload };
        continue;
      }
      const messages = desk.handle(event);
      if (messages.length) replies[event.id] = { messages };
    }
    if (result.batchId) return sendJson(res, 200, { replies });
    const reply = replies[result.events[0]!.id];
    if (!reply) return void res.writeHead(204).end();
    sendJson(res, 200, reply);
  }

  async function readJson(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | null> {
    // JSON only, and same-origin only: a page on another site cannot drive the console.
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      sendError(res, 415, 'BAD_REQUEST', 'Send JSON.');
      return null;
    }
    const origin = req.headers.origin;
    if (origin && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) {
      sendError(res, 403, 'FORBIDDEN', 'Cross-origin requests are refused.');
      return null;
    }
    const raw = await readBody(req, 64 * 1024);
    if (!raw) {
      sendError(res, 413, 'TOO_LARGE', 'The body is too large.');
      return null;
    }
    try {
      const value: unknown = raw.byteLength ? JSON.parse(raw.toString('utf8')) : {};
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // fall through
    }
    sendError(res, 400, 'BAD_REQUEST', 'The body must be a JSON object.');
    return null;
  }

  async function onConsoleAction(req: IncomingMessage, res: ServerResponse, conv: ConversationRecord, action: string) {
    const body = await readJson(req, res);
    if (!body) return;
    switch (action) {
      case 'take':
        await desk.take(conv);
        return sendJson(res, 200, summary(conv, desk.store.positionOf(conv)));
      case 'messages': {
        const text = typeof body.text === 'string' ? body.text.trim() : '';
        if (!text || text.length > 4000) return sendError(res, 400, 'BAD_REQUEST', 'text must be 1–4000 characters.');
        if (conv.status === 'closed') return sendError(res, 409, 'CONVERSATION_CLOSED', 'The conversation is closed.');
        const id = typeof body.id === 'string' && /^[\w-]{1,64}$/.test(body.id) ? body.id : undefined;
        return sendJson(res, 201, await desk.reply(conv, text, id));
      }
      case 'typing':
        if (conv.status === 'closed') return sendJson(res, 200, { ok: true });
        await desk.typing(conv, body.on === true);
        return sendJson(res, 200, { ok: true });
      case 'read': {
        const seq = body.seq;
        if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return sendError(res, 400, 'BAD_REQUEST', 'seq must be a positive integer.');
        await desk.markRead(conv, seq);
        return sendJson(res, 200, { ok: true });
      }
      case 'close':
        await desk.closeAndRate(conv);
        return sendJson(res, 200, summary(conv, undefined));
      default:
        return sendError(res, 404, 'NOT_FOUND', 'No such action.');
    }
  }

  function onEvents(req: IncomingMessage, res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: 2000\nevent: state\ndata: ${JSON.stringify(consoleState())}\n\n`);
    streams.add(res);
    req.on('close', () => streams.delete(res));
    desk.background('backfill', () => desk.backfill());
  }

  /** `POST /console/api/conversations/:id/files`: the agent attaches a file (the body, its type in content-type, its name in x-file-name). */
  async function onConsoleFile(req: IncomingMessage, res: ServerResponse, conv: ConversationRecord) {
    const origin = req.headers.origin;
    if (origin && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) return sendError(res, 403, 'FORBIDDEN', 'Cross-origin requests are refused.');
    if (!uploads) return sendError(res, 404, 'NOT_FOUND', 'Uploads are off.');
    if (conv.status === 'closed') return sendError(res, 409, 'CONVERSATION_CLOSED', 'The conversation is closed.');
    const bytes = await readBody(req, maxUploadBytes);
    if (!bytes) return sendError(res, 413, 'UPLOAD_TOO_LARGE', `Files are limited to ${maxUploadBytes} bytes.`);
    let name = '';
    try {
      name = decodeURIComponent(String(req.headers['x-file-name'] ?? '')).slice(-200);
    } catch {
      // a malformed name: refused below
    }
    const mime = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!name) return sendError(res, 400, 'BAD_REQUEST', 'Name the file in x-file-name.');
    const file = await uploads.save(name, mime, bytes);
    if (!file) return sendError(res, 415, 'UPLOAD_TYPE', `This demo takes ${DEMO_UPLOAD_TYPES.join(', ')} files.`);
    return sendJson(res, 201, await desk.sendFile(conv, file));
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://demo.local');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (uploads && (await uploads.handle(req, res))) return;

    if (method === 'POST' && path === '/webhooks/parley') return onWebhook(req, res);
    if (method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true });
    if (method === 'GET' && path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (method === 'GET' && path === '/') {
      res.writeHead(302, { location: '/console' }).end();
      return;
    }
    const asset = assets[path];
    if (method === 'GET' && asset) {
      const headers: Record<string, string> = { 'content-type': asset.type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
      if (asset.type.startsWith('text/html')) headers['content-security-policy'] = CONSOLE_CSP;
      res.writeHead(200, headers).end(asset.body);
      return;
    }
    if (method === 'GET' && path === '/console/events') return onEvents(req, res);
    if (method === 'GET' && path === '/console/api/state') return sendJson(res, 200, consoleState());
    if (method === 'POST' && path === '/console/api/availability') {
      const body = await readJson(req, res);
      if (!body) return;
      if (typeof body.online !== 'boolean') return sendError(res, 400, 'BAD_REQUEST', 'online must be a boolean.');
      await desk.setSwitch(body.online);
      return sendJson(res, 200, consoleState().availability);
    }
    const m = /^\/console\/api\/conversations\/([\w-]{1,64})(?:\/(take|messages|typing|read|close|files))?$/.exec(path);
    if (m) {
      const conv = desk.store.conversations.get(m[1]!);
      if (!conv) return sendError(res, 404, 'NOT_FOUND', 'No such conversation.');
      try {
        if (method === 'GET' && !m[2]) {
          const { entries, historyError } = await desk.transcript(conv);
          return sendJson(res, 200, { conversation: summary(conv, desk.store.positionOf(conv)), entries, historyError });
        }
        if (method === 'POST' && m[2] === 'files') return await onConsoleFile(req, res, conv);
        if (method === 'POST' && m[2]) return await onConsoleAction(req, res, conv, m[2]);
      } catch (err) {
        // The desk has dropped it; the console's list loses it with the next state.
        if (isGone(err)) return sendError(res, 404, 'NOT_FOUND', 'The relay no longer has this conversation; it was removed from the console.');
        throw err;
      }
    }
    if (method === 'GET' && path === '/demo/identity') {
      // How a merchant's server signs a logged-in shopper: the secret never leaves the server.
      if (!options.identitySecret) return sendError(res, 404, 'NOT_FOUND', 'No identity secret configured.');
      const signature = await signIdentity(options.identitySecret, DEMO_SHOPPER.userId);
      res.setHeader('access-control-allow-origin', '*');
      return sendJson(res, 200, { ...DEMO_SHOPPER, signature });
    }
    sendError(res, 404, 'NOT_FOUND', 'Not found.');
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const relayError = err instanceof RelayError ? err : null;
      log(`request failed: ${req.method} ${req.url?.split('?')[0]}: ${relayError ? relayError.code : String(err)}`);
      if (res.headersSent) return res.end();
      if (relayError) sendError(res, 502, relayError.code, relayError.message);
      else sendError(res, 500, 'INTERNAL', 'The demo backend hit an unexpected error.');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3001, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (options.uploads !== false) {
    uploads = await createUploadStore({
      dir: options.dataDir ? join(options.dataDir, 'uploads') : null,
      publicUrl: options.uploads?.publicUrl ?? url,
      maxBytes: maxUploadBytes,
      types: DEMO_UPLOAD_TYPES,
      now,
    });
  }

  // Tell the relay whether agents are available now, retrying while it starts, then
  // re-check opening hours periodically.
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const announce = (attempt: number) => {
    desk.background('availability', async () => {
      try {
        await desk.syncAvailability(true);
      } catch (err) {
        if (stopped || attempt >= 30) throw err;
        retry = setTimeout(() => announce(attempt + 1), 1000);
        retry.unref();
        return;
      }
      // The relay is up: pick up what it has that the desk has not seen, drop what it lost.
      desk.background('backfill', () => desk.backfill());
    });
  };
  announce(1);
  const hoursTimer = setInterval(() => {
    if (desk.online !== undefined) desk.background('availability', () => desk.syncAvailability());
  }, options.hoursCheckMs ?? 30_000);
  hoursTimer.unref();
  const keepAlive = setInterval(() => {
    for (const res of streams) res.write(': ping\n\n');
  }, 20_000);
  keepAlive.unref();

  return {
    url,
    uploadOrigin: uploads ? new URL(options.uploads ? (options.uploads.publicUrl ?? url) : url).origin : null,
    webhookUrl: `${url}/webhooks/parley`,
    settled: () => desk.settled(),
    stopAnswers: () => desk.stopAi(null, 'The demo backend stopped.'),
    close: async () => {
      stopped = true;
      clearTimeout(retry);
      clearInterval(hoursTimer);
      clearInterval(keepAlive);
      unsubscribe();
      for (const res of streams) res.end();
      streams.clear();
      desk.stopAi(null, 'The demo backend stopped.');
      await desk.settled();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await saver?.flush();
      await uploads?.close();
    },
  };
}

/** A conversation as the console's list shows it. */
function summary(c: ConversationRecord, position: number | undefined) {
  return {
    id: c.id,
    visitorId: c.visitorId,
    status: c.status,
    position,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    waitingSince: c.waitingSince,
    agent: c.agent?.name,
    locale: c.locale,
    context: c.context,
    identity: c.identity,
    preview: c.preview,
    visitorTyping: c.visitorTyping === true,
    readSeq: c.readSeq ?? 0,
    linkedConversationId: c.linkedConversationId,
  };
}
