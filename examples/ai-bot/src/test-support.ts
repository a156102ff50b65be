// Test support: a mock OpenAI-compatible endpoint on port 0 that streams its answer as
// server-sent events, a chunk at a time, and records every request; and a widget's socket.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, decodeServerFrame, type ServerFrame } from '@parley/protocol';

/** How the mock answers one request. */
export interface MockAnswer {
  /** The text chunks, each sent as one `data:` event. */
  chunks: string[];
  /** Pause between chunks. Default 5 ms. */
  delayMs?: number;
  /** Cut the connection after this many chunks, without `[DONE]`. */
  cutAfter?: number;
  /** Refuse the request with this status and an OpenAI-style error body. */
  status?: number;
}

export interface MockModel {
  /** `http://127.0.0.1:<port>/v1` */
  baseUrl: string;
  requests: Array<{ headers: IncomingHttpHeaders; body: { model: string; stream: boolean; messages: Array<{ role: string; content: string }> } }>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startMockModel(answer: (index: number) => MockAnswer): Promise<MockModel> {
  const requests: MockModel['requests'] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404).end();
        return;
      }
      const index = requests.push({ headers: req.headers, body: JSON.parse(Buffer.concat(parts).toString('utf8')) }) - 1;
      const a = answer(index);
      if (a.status) {
        res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error' } }));
        return;
      }
      void (async () => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(': keep-alive\n\n');
        const event = (delta: object, finish: string | null) =>
          `data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', model: 'mock', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        res.write(event({ role: 'assistant', content: '' }, null));
        for (const [i, chunk] of a.chunks.entries()) {
          if (a.cutAfter !== undefined && i >= a.cutAfter) {
            res.socket?.destroy();
            return;
          }
          res.write(event({ content: chunk }, null));
          await sleep(a.delayMs ?? 5);
        }
        res.write(event({}, 'stop'));
        res.end('data: [DONE]\n\n');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A widget's socket, as a `ws` client: `hello`, `send`, and every frame it received. */
export interface Visitor {
  conversationId: string;
  frames: ServerFrame[];
  send(frame: object): void;
  /** The first frame matching `pred` (already received or still to come). */
  take(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  close(): void;
}

export async function openVisitor(relayBase: string, origin: string, siteKey: string): Promise<Visitor> {
  const ws = new WebSocket(`${relayBase.replace(/^http/, 'ws')}/v1/widget`, { origin });
  const frames: ServerFrame[] = [];
  ws.on('message', (data) => {
    const r = decodeServerFrame(data.toString());
    if (!r.ok) throw new Error(`the relay sent an invalid frame: ${r.message}`);
    frames.push(r.frame);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const take = async (pred: (f: ServerFrame) => boolean, timeoutMs = 8000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = frames.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no such frame; got ${JSON.stringify(frames)}`);
      await sleep(10);
    }
  };
  ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, siteKey }));
  const welcome = await take((f) => f.t === 'welcome');
  return {
    conversationId: (welcome as Extract<ServerFrame, { t: 'welcome' }>).conversationId,
    frames,
    send: (frame) => ws.send(JSON.stringify(frame)),
    take,
    close: () => ws.close(),
  };
}
