// The merchant backend of the side-by-side bench, one process every server talks to. Over HTTP
// (`POST /hook/<name>/<mode>`: the relay's webhooks; `POST /bot/<name>`: the peers' calls) and over
// the backend socket (`connect`), it counts each visitor `message.created` per name and, in `bot`
// mode, answers with the bot's reply. It checks nothing costly (no signature): its CPU is not
// what is measured.
import { createServer } from 'node:http';
import { REPLY_BODY, replyId } from './constants.mjs';

export async function startBackend() {
  const counts = {};
  const of = (name) => (counts[name] ??= { events: 0, replies: 0, other: 0 });

  /** The reply to `event` (or undefined), counting it under `name`. */
  const handle = (name, mode, event) => {
    const c = of(name);
    const m = event?.data?.message;
    if (event?.type !== 'message.created' || m?.from?.role !== 'visitor') {
      c.other++;
      return undefined;
    }
    c.events++;
    if (mode !== 'bot') return undefined;
    c.replies++;
    return { messages: [{ id: replyId(m.id), body: REPLY_BODY }] };
  };

  const server = createServer((req, res) => {
    const [, route, name = '?', mode = 'bot'] = (req.url ?? '').split('/');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let event;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        res.writeHead(400).end();
        return;
      }
      const reply = route === 'hook' || route === 'bot' ? handle(name, route === 'bot' ? 'bot' : mode, event) : undefined;
      if (!reply) {
        res.writeHead(204).end();
        return;
      }
      const json = JSON.stringify(reply);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  let sockets = [];

  return {
    port: server.address().port,
    counts: () => counts,
    async call(cmd, args) {
      if (cmd === 'connect') {
        // The backend socket: the relay pushes each event; returning { messages } replies inline.
        const { connectRelay } = await import('@parley/backend');
        const { url, apiSecret, name, mode } = args;
        const connection = connectRelay({ url, apiSecret, onEvent: (event) => handle(name, mode, event) });
        sockets.push({ name, connection });
        await new Promise((resolve, reject) => {
          if (connection.state === 'open') return resolve();
          const timer = setTimeout(() => reject(new Error(`the backend socket to ${url} did not open in 10 s`)), 10_000);
          connection.on('connected', () => (clearTimeout(timer), resolve()));
          connection.on('error', (e) => (clearTimeout(timer), reject(new Error(`backend socket: ${e.code} ${e.message}`))));
        });
        return true;
      }
      if (cmd === 'disconnect') {
        // Closes the backend sockets counted under `name` (before their relay goes away).
        for (const s of sockets.filter((x) => x.name === args.name)) await s.connection.close();
        sockets = sockets.filter((x) => x.name !== args.name);
        return true;
      }
      throw new Error(`unknown backend command ${cmd}`);
    },
    async close() {
      for (const s of sockets) await s.connection.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };
}
