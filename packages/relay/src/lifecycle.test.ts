// The relay's services start with the app and stop with it (plugins/lifecycle.ts): who owns the
// engine, and the worker woken by what the service queues.
import { CLOSE } from '@parley/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import { buildApp } from './app.js';
import { MemoryEngine } from './engine/memory.js';
import { TestClient, messageOf, startBackend, startRelay, testConfig } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('relay lifecycle', () => {
  test('an injected engine is started with the app and left open when it closes', async () => {
    const engine = new MemoryEngine();
    const app = buildApp(testConfig('http://127.0.0.1:9/hook'), { logger: false, engine });
    expect(engine.isReady()).toBe(false);
    await app.ready();
    expect(engine.isReady()).toBe(true);
    await app.close();
    expect(engine.isReady()).toBe(true);
    await engine.close();
  });

  test('the engine the config names is started with the app and closed with it', async () => {
    const app = buildApp(testConfig('http://127.0.0.1:9/hook'), { logger: false });
    await app.ready();
    expect(app.parley.engine.isReady()).toBe(true);
    await app.close();
    expect(app.parley.engine.isReady()).toBe(false);
  });

  test('closing the app closes widget sockets with GOING_AWAY, and cuts one that never answers the close after the grace', async () => {
    const relay = await startRelay(testConfig('http://127.0.0.1:9/hook'), { closeGraceMs: 300 });
    const polite = await TestClient.open(relay.wsUrl);
    await polite.hello();
    const deaf = await TestClient.open(relay.wsUrl);
    await deaf.hello();
    // This one reads nothing more: it never sees the close frame, so it never answers it.
    const raw = (deaf.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    const started = Date.now();
    await relay.close();
    const took = Date.now() - started;
    expect(await polite.whenClosed).toMatchObject({ code: CLOSE.GOING_AWAY });
    // The relay waited out the grace, then cut the connection instead of waiting for the answer.
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5000);
    raw.resume();
    await deaf.whenClosed;
  });

  test('a queued event is delivered at once, not at the next look at the queue', async () => {
    const backend = await startBackend();
    cleanups.push(backend.close);
    // The queue poll never comes round within the test: only the service's "queued" signal can wake the worker.
    const relay = await startRelay(testConfig(backend.url), { webhooks: { pollMs: 60_000 } });
    cleanups.push(relay.close);
    const visitor = await TestClient.open(relay.wsUrl);
    cleanups.push(() => visitor.close());
    await visitor.hello();
    // Let the worker's first look at the (empty) queue pass, so it sleeps until the poll.
    await new Promise((r) => setTimeout(r, 100));
    visitor.send({ t: 'send', id: 'v1', body: { type: 'text', text: 'anyone?' } });
    const received = await backend.waitFor(2);
    expect(received.map((r) => `${r.json.type}:${messageOf(r.json)?.id ?? ''}`)).toEqual(['conversation.started:', 'message.created:v1']);
  });
});
