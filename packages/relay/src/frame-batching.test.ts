import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE } from '@parley/protocol';
import { LimitsConfig } from './config.js';
import { Connection, type SocketContext } from './connection.js';
import { createMetrics } from './plugins/metrics.js';
import { TestClient, startRelay, testConfig } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type CountedSocket = Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };

/** Counts the writes (system calls) the relay makes on the server end of `client`'s socket. */
function writesTo(serverSockets: Map<number, Socket>, client: TestClient): { count: number } {
  const port = (client.ws as unknown as { _socket: Socket })._socket.localPort!;
  const stream = serverSockets.get(port) as CountedSocket;
  const counter = { count: 0 };
  const write = stream._write.bind(stream);
  const writev = stream._writev.bind(stream);
  stream._write = (...a) => (counter.count++, write(...a));
  stream._writev = (...a) => (counter.count++, writev(...a));
  return counter;
}

/** A backend that answers 204, except `message.created` of `id`, which waits for `answer`. */
async function holdingBackend(id: string) {
  let held: ServerResponse | undefined;
  let arrived: () => void = () => {};
  const heldNow = new Promise<void>((r) => (arrived = r));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: { message?: { id: string } } };
      if (event.type === 'message.created' && event.data.message?.id === id) {
        held = res;
        arrived();
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/parley`,
    heldNow,
    answer: (body: unknown) => held!.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
  };
}

async function twoTabs(webhookUrl: string) {
  const relay = await startRelay(testConfig(webhookUrl));
  cleanups.push(relay.close);
  // The server end of each client socket, by the client's port.
  const sockets = new Map<number, Socket>();
  relay.app.server.on('connection', (s: Socket) => sockets.set(s.remotePort!, s));
  const a = await TestClient.open(relay.wsUrl);
  cleanups.push(() => a.close());
  const welcome = await a.hello();
  const b = await TestClient.open(relay.wsUrl);
  cleanups.push(() => b.close());
  await b.hello({ token: welcome.token });
  return { sockets, a, b };
}

describe('frames sent together leave in one write', () => {
  test("a visitor's send: the sender gets its own msg and the ack in one write, the other tab the msg in one", async () => {
    const backend = await holdingBackend('none');
    const { sockets, a, b } = await twoTabs(backend.url);
    a.send({ t: 'send', id: 'm0', body: { type: 'text', text: 'first' } });
    await a.take('ack');
    await b.take('msg');

    const toA = writesTo(sockets, a);
    const toB = writesTo(sockets, b);
    const before = a.frames.length;
    a.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'second' } });
    await a.take('ack');
    await b.take((f) => f.t === 'msg' && f.id === 'm1');
    expect(a.frames.slice(before).map((f) => [f.t, f.t === 'msg' || f.t === 'ack' ? f.id : ''])).toEqual([
      ['msg', 'm1'],
      ['ack', 'm1'],
    ]);
    expect(toA.count).toBe(1);
    expect(toB.count).toBe(1);
  });

  test('a bot reply of three messages reaches every socket of the conversation in one write each, in order', async () => {
    const backend = await holdingBackend('m1');
    const { sockets, a, b } = await twoTabs(backend.url);
    a.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'hello?' } });
    await a.take('ack');
    await b.take('msg');
    await backend.heldNow;

    const toA = writesTo(sockets, a);
    const toB = writesTo(sockets, b);
    backend.answer({ messages: ['one', 'two', 'three'].map((text) => ({ body: { type: 'text', text } })) });
    for (const c of [a, b]) {
      await c.take((f) => f.t === 'msg' && f.seq === 4);
      expect(c.msgs().map((m) => [m.seq, m.from.role])).toEqual([
        [1, 'visitor'],
        [2, 'bot'],
        [3, 'bot'],
        [4, 'bot'],
      ]);
    }
    expect(toA.count).toBe(1);
    expect(toB.count).toBe(1);
  });

  test('a reader that takes nothing is still closed with CLOSE.SLOW_CONSUMER while frames are gathered', () => {
    // A ws socket over a stream that is never drained: whatever is uncorked stays buffered.
    const sent: string[] = [];
    const closes: number[] = [];
    let corks = 0;
    let corked = 0;
    const socket = {
      readyState: 1,
      bufferedAmount: 0,
      _socket: { cork: () => (corks++, corked++), uncork: () => corked-- },
      send(text: string) {
        sent.push(text);
        this.bufferedAmount += text.length;
      },
      close(code: number) {
        closes.push(code);
        this.readyState = 2;
      },
      terminate() {},
    };
    const ctx = { limits: LimitsConfig.parse({ maxBufferedBytes: 2048 }), metrics: createMetrics(), now: Date.now, closeGraceMs: 10 } as unknown as SocketContext;
    const conn = new Connection(ctx, socket as never, '127.0.0.1', undefined);
    for (let i = 0; i < 200; i++) conn.sendFrame({ t: 'pong', ts: i });
    expect(closes).toEqual([CLOSE.SLOW_CONSUMER]);
    expect(JSON.parse(sent.at(-1)!)).toMatchObject({ t: 'error', code: 'SLOW_CONSUMER' });
    expect(sent.length).toBeLessThan(200);
    // Frames were gathered, and the stream is not left corked.
    expect(corks).toBeGreaterThan(0);
    expect(corked).toBe(0);
  });
});
