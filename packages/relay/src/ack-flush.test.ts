import { afterEach, describe, expect, test } from 'vitest';
import { CLOSE } from '@parley/protocol';
import { MemoryEngine } from './engine/memory.js';
import type { AppendRequest, AppendResult } from './engine/types.js';
import { startStack } from './test-support/harness.js';
import type { BuildAppOptions } from './app.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A memory engine whose appends take `ms`: a send is still in the engine when later frames arrive. */
class SlowEngine extends MemoryEngine {
  constructor(private readonly ms: number) {
    super();
  }
  override async append(request: AppendRequest): Promise<AppendResult | null> {
    await new Promise((r) => setTimeout(r, this.ms));
    return super.append(request);
  }
}

const setup = (options: BuildAppOptions = {}) => startStack((c) => cleanups.push(c), options);

const text = (t: string) => ({ type: 'text', text: t });

describe('binary frames', () => {
  test('after hello: a BAD_FRAME error and the socket stays open; before hello: BAD_FRAME and close 4405', async () => {
    const { open } = await setup();
    const c = await open();
    await c.hello();
    c.ws.send(Buffer.from(JSON.stringify({ t: 'send', id: 'bin', body: text('in a binary frame') })), { binary: true });
    expect(await c.take('error')).toMatchObject({ code: 'BAD_FRAME', message: expect.stringContaining('Binary') });
    c.send({ t: 'send', id: 'txt', body: text('in a text frame') });
    expect(await c.take('ack')).toMatchObject({ id: 'txt', seq: 1 });
    expect(c.msgs().map((m) => m.id)).toEqual(['txt']);

    const early = await open();
    early.ws.send(Buffer.from(JSON.stringify({ t: 'hello', v: 1, siteKey: 'pk_test' })), { binary: true });
    expect(await early.take('error')).toMatchObject({ code: 'BAD_FRAME' });
    expect((await early.waitClosed()).code).toBe(CLOSE.BAD_HELLO);
  });
});

describe('acks are flushed before a close', () => {
  test('a flood closes the socket only after the send already in the engine is acked; nothing stored goes unacked', async () => {
    const { relay, open } = await setup({ engine: new SlowEngine(80), limits: { rateLimit: { perSecond: 1, burst: 8 }, rateLimitStrikes: 3 } });
    const c = await open();
    const welcome = await c.hello();
    for (let i = 0; i < 40; i++) c.send({ t: 'send', id: `m${i}`, body: text(`message ${i}`) });
    expect((await c.waitClosed()).code).toBe(CLOSE.RATE_LIMITED);
    const acked = new Set(c.frames.filter((f) => f.t === 'ack').map((f) => (f as { id: string }).id));
    const history = await relay.api('GET', `/v1/conversations/${welcome.conversationId}/messages?limit=200`);
    const stored: string[] = history.status === 404 ? [] : history.json.entries.map((e: { id: string }) => e.id);
    expect(stored.length).toBeGreaterThan(0);
    // Every stored message was acked to its sender; the frames behind the close were not stored.
    expect(stored.filter((id) => !acked.has(id))).toEqual([]);
    expect([...acked].sort()).toEqual([...stored].sort());
  });

  test('invalid frames behind a send are handled after it: its ack comes before the close they cause', async () => {
    const { relay, open } = await setup({ engine: new SlowEngine(80), limits: { maxInvalidFrames: 2 } });
    const c = await open();
    const welcome = await c.hello();
    c.send({ t: 'send', id: 'kept', body: text('stored') });
    c.send('{"not json');
    c.send('{"not json either');
    c.send('{"and again');
    expect((await c.waitClosed()).code).toBe(CLOSE.PROTOCOL_ERROR);
    expect(c.frames.find((f) => f.t === 'ack')).toMatchObject({ id: 'kept', seq: 1 });
    const history = await relay.api('GET', `/v1/conversations/${welcome.conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string }) => e.id)).toEqual(['kept']);
  });
});
