import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { API_SECRET, TestClient, WEBHOOK_SECRET, startBackend, startRelay, testConfig } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('logs', () => {
  test('trace logs of a whole conversation contain no message text, token or secret', async () => {
    let output = '';
    const stream = new Writable({
      write(chunk, _enc, done) {
        output += chunk.toString();
        done();
      },
    });
    let calls = 0;
    const backend = await startBackend(() => (calls++ < 1 ? { status: 500 } : { status: 200, body: { messages: [{ body: { type: 'text', text: 'BOT-SECRET-REPLY' } }] } }));
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { logger: { level: 'trace', stream }, webhooks: { retryScheduleMs: [10, 10, 10] } });
    cleanups.push(relay.close);
    const c = await TestClient.open(relay.wsUrl);
    cleanups.push(() => c.close());
    const welcome = await c.hello();
    c.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'VISITOR-PRIVATE-TEXT' } });
    await c.take((f) => f.t === 'msg' && f.from.role === 'bot');
    await relay.api('POST', `/v1/conversations/${welcome.conversationId}/messages`, { id: 'r1', body: { type: 'text', text: 'AGENT-PRIVATE-TEXT' } });
    c.send('{"t":"send","id":"x","body":{"type":"text","text":"MALFORMED-PRIVATE-TEXT"');
    await c.take('error');

    expect(output).toContain('webhook attempt failed');
    for (const secret of ['VISITOR-PRIVATE-TEXT', 'BOT-SECRET-REPLY', 'AGENT-PRIVATE-TEXT', 'MALFORMED-PRIVATE-TEXT', welcome.token, API_SECRET, WEBHOOK_SECRET]) {
      expect(output).not.toContain(secret);
    }
  });
});

describe('a quiet log', () => {
  function capture() {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return { lines, stream };
  }

  test('client protocol errors (invalid UTF-8, bad WebSocket framing, malformed HTTP) log no warning or error and no stack; they are counted', async () => {
    const { lines, stream } = capture();
    const backend = await startBackend();
    cleanups.push(backend.close);
    const relay = await startRelay(testConfig(backend.url), { logger: { level: 'info', stream } });
    cleanups.push(relay.close);
    const port = Number(new URL(relay.base).port);

    for (let i = 0; i < 20; i++) {
      const c = await TestClient.open(relay.wsUrl);
      cleanups.push(() => c.close());
      await c.hello();
      // A text frame that is not UTF-8: the ws library refuses it and closes with 1007.
      (c.ws as unknown as { _socket: Socket })._socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28]));
      await c.waitClosed();
    }
    for (let i = 0; i < 20; i++) {
      const s = connect(port, '127.0.0.1');
      s.resume(); // read the answer, so its end and close are seen
      s.on('error', () => {});
      s.write('GARBAGE / HTTP/9\r\n\r\n');
      await new Promise((r) => s.on('close', r));
    }
    // Requests are not logged line by line either.
    for (let i = 0; i < 20; i++) await fetch(`${relay.base}/healthz`);

    const noisy = lines.filter((l) => (l.level as number) >= 40 || JSON.stringify(l).includes('"stack"'));
    expect(noisy).toEqual([]);
    // What remains at info is the operator's: the relay listening.
    expect(lines.filter((l) => (l.level as number) >= 30).map((l) => l.msg)).toEqual(lines.filter((l) => /listening/i.test(String(l.msg))).map((l) => l.msg));
    const metrics = await (await fetch(`${relay.base}/metrics`)).text();
    expect(metrics).toMatch(/parley_client_errors_total\{kind="websocket"\} 20/);
    expect(metrics).toMatch(/parley_client_errors_total\{kind="http"\} 20/);
  });
});
