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
