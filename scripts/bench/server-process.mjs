// One server of the side-by-side bench in a process of its own, so its memory and CPU time are its
// alone: `node server-process.mjs <kind> <config JSON>`. Kinds: `bare` (the `ws` server),
// `socketio` (Socket.IO 4), `relay` (the Parley relay, `buildApp` with the given config) and
// `backend` (the merchant backend every server talks to). It answers the parent over IPC:
// `stats` (CPU time and memory, after a full GC when asked), `close`, and the backend's own calls.

import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

/** The process's read and write syscalls so far (`syscr`, `syscw` of /proc/self/io), where Linux has them. */
function syscalls() {
  try {
    const io = Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map((line) => line.split(': ')));
    return { reads: Number(io.syscr), writes: Number(io.syscw) };
  } catch {
    return undefined;
  }
}

const BENCH_PACKAGE = new URL('../../packages/bench/src/', import.meta.url);

const [kind, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson ?? '{}');

let server;
if (kind === 'bare') {
  const { startWsChatServer } = await import(new URL('ws-chat-server.mjs', BENCH_PACKAGE));
  server = await startWsChatServer(config);
} else if (kind === 'socketio') {
  const { startSocketIoChatServer } = await import(new URL('socketio-chat-server.mjs', BENCH_PACKAGE));
  server = await startSocketIoChatServer(config);
} else if (kind === 'relay') {
  const { buildApp } = await import('../../packages/relay/dist/index.js');
  const app = buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  server = { port: app.server.address().port, close: () => app.close() };
} else if (kind === 'backend') {
  const { startBackend } = await import('./backend.mjs');
  server = await startBackend(config);
} else {
  throw new Error(`unknown server kind ${kind}`);
}

const gc = globalThis.gc ?? (() => {});
process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'stats') {
      if (msg.gc) {
        // Twice, with a turn of the event loop between, so finalizers and weak refs settle.
        gc();
        await new Promise((r) => setTimeout(r, 50));
        gc();
      }
      process.send({ id: msg.id, cpu: process.cpuUsage(), mem: process.memoryUsage(), spaces: Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, x.physical_space_size])), hrtimeUs: Number(process.hrtime.bigint() / 1000n), syscalls: syscalls(), ...(server.counts ? { counts: server.counts() } : {}) });
    } else if (msg.cmd === 'close') {
      await server.close();
      process.send({ id: msg.id }, () => process.exit(0));
    } else {
      process.send({ id: msg.id, value: await server.call(msg.cmd, msg.args) });
    }
  } catch (err) {
    process.send({ id: msg.id, error: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, port: server.port });
