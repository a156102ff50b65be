// An open widget costs its socket and little more (docs/benchmarks.md, idle memory per open
// widget): once the socket is open, the HTTP upgrade request is let go, with its headers, the
// Fastify request and reply and their child logger.
import type { IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, test } from 'vitest';
import { TestClient, startRelay, testConfig } from './test-support/harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('idle widget', () => {
  test('an open widget lets its upgrade request go and is still served', async () => {
    const relay = await startRelay(testConfig('http://127.0.0.1:9/hook'));
    cleanups.push(relay.close);
    const upgrades: Array<WeakRef<IncomingMessage>> = [];
    relay.app.server.on('upgrade', (req: IncomingMessage) => upgrades.push(new WeakRef(req)));
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    await c.hello();
    await new Promise((r) => setTimeout(r, 20));
    gc();
    expect(upgrades).toHaveLength(1);
    expect(upgrades[0]!.deref()).toBeUndefined();
    c.send({ t: 'ping', ts: 1 });
    expect(await c.take('pong')).toMatchObject({ t: 'pong' });
  });
});
