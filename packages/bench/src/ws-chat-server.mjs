// The floor of the side-by-side bench: a bare `ws` server. On `/echo` it writes back every frame
// it reads; on `/bot` it reads the visitor's `send` frame, asks the backend over HTTP (undici,
// keep-alive, the same call and the same backend process as the other servers) and writes the
// bot's reply back as a `msg` frame. No log, no sequence numbers, no acks, no limits.
import { WebSocketServer } from 'ws';
import { backendCaller, messageCreated } from './backend-call.mjs';

/** Listens on `host`, port 0; `backendUrl` is where `/bot` POSTs. Resolves with the port and `close()`. */
export async function startWsChatServer({ backendUrl, host = '127.0.0.1', connections } = {}) {
  const backend = backendUrl ? backendCaller(backendUrl, { connections }) : undefined;
  const wss = new WebSocketServer({ host, port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  let conversations = 0;
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    if (req.url?.startsWith('/bot') && backend) {
      const conversationId = `bare-${++conversations}`;
      ws.on('message', async (data) => {
        let frame;
        try {
          frame = JSON.parse(data.toString());
        } catch {
          return;
        }
        if (frame?.t !== 'send' || typeof frame.id !== 'string') return;
        const message = { id: frame.id, ts: Date.now(), from: { role: 'visitor' }, body: frame.body };
        try {
          for (const m of await backend.ask(messageCreated('bare', conversationId, message))) {
            ws.send(JSON.stringify({ t: 'msg', id: m.id, ts: Date.now(), from: m.from ?? { role: 'bot' }, body: m.body }));
          }
        } catch {
          ws.send(JSON.stringify({ t: 'error', id: frame.id }));
        }
      });
    } else {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
  });
  return {
    port: wss.address().port,
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve(backend?.close()));
      }),
  };
}
