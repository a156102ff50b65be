// The one recording HTTP server of the tests: a merchant backend taking webhooks, or a stand-in
// relay taking REST calls. It listens on 127.0.0.1 port 0, records every request, and answers
// what `answer` says.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as it arrived. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  /** The path alone. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  raw: string;
}

/**
 * What to answer. `body` is sent as JSON; `raw` is sent as is with `contentType` (default
 * text/plain), chunked (no content-length); neither: an empty answer. `delayMs` holds the answer.
 */
export interface Answer {
  status: number;
  body?: unknown;
  raw?: string;
  contentType?: string;
  delayMs?: number;
}

export interface RecordingServer<R> {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** Every request, as `record` made it, in arrival order. */
  received: R[];
  /** TCP connections opened to the server so far. */
  connections(): number;
  /** Resolves once `n` requests (or the records `pred` accepts) have arrived; throws after `timeoutMs`. */
  waitFor(pred: number | ((received: R[]) => boolean), timeoutMs?: number): Promise<R[]>;
  close(): Promise<void>;
}

export interface RecordingServerOptions<R> {
  /** What is kept of each request (a throw fails the run: use it to check what arrived). */
  record: (req: RecordedRequest) => R;
  /** The answer to the request `index` (0-based), once recorded. */
  answer: (rec: R, index: number) => Answer;
}

/** Start a recording server. */
export async function startRecordingServer<R = RecordedRequest>(options: Partial<RecordingServerOptions<R>> = {}): Promise<RecordingServer<R>> {
  const record = options.record ?? ((req: RecordedRequest) => req as unknown as R);
  const answer: (rec: R, index: number) => Answer = options.answer ?? (() => ({ status: 204 }));
  const received: R[] = [];
  const waiters: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      const raw = Buffer.concat(chunks).toString('utf8');
      let rec: R;
      try {
        rec = record({ method: req.method ?? '', url, path: url.split('?')[0]!, headers: req.headers, raw });
      } catch (err) {
        res.writeHead(400).end();
        throw err;
      }
      const index = received.push(rec) - 1;
      const a = answer(rec, index);
      const respond = () => {
        if (a.raw !== undefined) {
          res.writeHead(a.status, { 'content-type': a.contentType ?? 'text/plain', 'transfer-encoding': 'chunked' });
          res.write(a.raw);
          res.end();
        } else if (a.body === undefined) res.writeHead(a.status).end();
        else res.writeHead(a.status, { 'content-type': a.contentType ?? 'application/json' }).end(JSON.stringify(a.body));
      };
      if (a.delayMs) setTimeout(respond, a.delayMs);
      else respond();
      for (const w of waiters.splice(0)) w();
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    connections: () => connections,
    async waitFor(pred, timeoutMs = 8000) {
      const ok = typeof pred === 'number' ? (r: R[]) => r.length >= pred : pred;
      const deadline = Date.now() + timeoutMs;
      while (!ok(received)) {
        if (Date.now() > deadline) throw new Error(`recording server: timed out with ${received.length} requests`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
