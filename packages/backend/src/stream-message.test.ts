import WebSocket from 'ws';
import { afterEach, describe, expect, test } from 'vitest';
import { connectRelay, type RelayConnection } from './connect-relay.js';
import { RelayError } from './errors.js';
import { createRelayClient } from './relay-client.js';
import { STREAM_SECRET, startStreamRelay, type Fault, type RecordedStep, type StreamRelay } from './test-support/stream-relay.js';
import type { StreamRequest } from '@parley/protocol';

// streamMessage over REST and over the backend socket, against a stand-in relay that applies the
// step semantics and records every step (the real relay: packages/relay/src/stream-sdk.test.ts).

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CONV = 'c_stream';
const SOURCES = [{ title: 'Returns policy', url: 'https://shop.example/returns' }];

async function standIn(fault?: (step: StreamRequest, index: number) => Fault | undefined): Promise<StreamRelay> {
  const relay = await startStreamRelay(fault);
  cleanups.push(relay.close);
  return relay;
}

function connect(relay: StreamRelay): RelayConnection {
  const conn = connectRelay({
    url: relay.socketUrl,
    apiSecret: STREAM_SECRET,
    onEvent: () => {},
    minDelayMs: 10,
    maxDelayMs: 50,
    createSocket: (url, headers) => new WebSocket(url, { headers }),
  });
  cleanups.push(() => conn.close());
  return conn;
}

/** A text stream written from the test: `push` a chunk, `end` it, or make it throw. */
function controlled() {
  type Item = { value: IteratorResult<string> } | { error: unknown };
  const queue: Item[] = [];
  let waiting: ((item: Item) => void) | undefined;
  const state = { released: false };
  const deliver = (item: Item) => {
    const w = waiting;
    waiting = undefined;
    if (w) w(item);
    else queue.push(item);
  };
  const iterable: AsyncIterable<string> = {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        new Promise<IteratorResult<string>>((resolve, reject) => {
          const settle = (item: Item) => ('error' in item ? reject(item.error) : resolve(item.value));
          const item = queue.shift();
          if (item) settle(item);
          else waiting = settle;
        }),
      return: async () => {
        state.released = true;
        return { done: true, value: undefined };
      },
    }),
  };
  return {
    iterable,
    state,
    push: (text: string) => deliver({ value: { done: false, value: text } }),
    end: () => deliver({ value: { done: true, value: undefined } }),
    fail: (error: unknown) => deliver({ error }),
  };
}

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield p;
}

const ops = (steps: RecordedStep[]) => steps.map((s) => s.step.op);
const deltasOf = (steps: RecordedStep[]) => steps.flatMap((s) => (s.step.op === 'delta' ? [{ offset: s.step.offset, text: s.step.text, status: s.status }] : []));
const hasDelta = (pred: (d: { offset: number; text: string; status: number }) => boolean) => (steps: RecordedStep[]) => deltasOf(steps).some(pred);

describe('streamMessage over REST', () => {
  test('200 chunks written within ~100 ms travel as a handful of deltas; finish carries the full text and the sources', async () => {
    const relay = await standIn();
    const words = Array.from({ length: 200 }, (_, i) => `w${i} `);
    async function* model() {
      for (let i = 0; i < words.length; i++) {
        yield words[i]!;
        if (i % 10 === 9) await sleep(5);
      }
    }
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const began = Date.now();
    const result = await relayClient.streamMessage(CONV, model(), { id: 'ans_1', sources: SOURCES });
    const elapsed = Date.now() - began;
    const source = words.join('');

    const deltas = deltasOf(relay.steps);
    expect(ops(relay.steps)).toEqual(['start', ...deltas.map(() => 'delta'), 'finish']);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.length).toBeLessThanOrEqual(Math.floor(elapsed / 50) + 1);
    expect(deltas.length).toBeLessThan(20);
    // Each delta starts where the previous one ended, and together they are the start of the answer.
    let offset = 0;
    for (const d of deltas) {
      expect(d.offset).toBe(offset);
      offset += d.text.length;
    }
    expect(source.startsWith(deltas.map((d) => d.text).join(''))).toBe(true);
    expect(relay.steps.at(-1)!.step).toEqual({ op: 'finish', text: source, sources: SOURCES });
    expect(result).toMatchObject({
      id: 'ans_1',
      done: true,
      duplicate: false,
      seq: 1,
      message: { seq: 1, id: 'ans_1', from: { role: 'bot', ai: true }, body: { type: 'text', text: source, sources: SOURCES } },
    });
  });

  test('one delta request is in flight at a time: chunks that arrive meanwhile go together in the next one', async () => {
    // Each delta answer takes longer than the coalescing window.
    const relay = await standIn((step) => (step.op === 'delta' ? { delayMs: 250 } : undefined));
    const model = controlled();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const answer = relayClient.streamMessage(CONV, model.iterable, { id: 'ans_f' });
    model.push('a');
    await relay.waitFor(hasDelta((d) => d.text === 'a'));
    for (const chunk of ['b', 'c', 'd']) {
      model.push(chunk);
      await sleep(60);
    }
    await relay.waitFor(hasDelta((d) => d.offset === 1));
    model.end();
    await answer;
    expect(deltasOf(relay.steps)).toEqual([
      { offset: 0, text: 'a', status: 200 },
      { offset: 1, text: 'bcd', status: 200 },
    ]);
    expect(relay.steps.every((s) => s.inFlight === 0)).toBe(true);
  });

  test('a character split across two chunks is never split across two deltas', async () => {
    const relay = await standIn();
    const model = controlled();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const answer = relayClient.streamMessage(CONV, model.iterable, { id: 'ans_u' });
    model.push('Hi \uD83D');
    await relay.waitFor(hasDelta((d) => d.offset === 0));
    await sleep(80);
    model.push('\uDE00!');
    await relay.waitFor(hasDelta((d) => d.offset === 3));
    model.end();
    await answer;
    expect(deltasOf(relay.steps)).toEqual([
      { offset: 0, text: 'Hi ', status: 200 },
      { offset: 3, text: '😀!', status: 200 },
    ]);
  });

  test('a sender and quick replies go with start and finish; the answer is logged as quick replies', async () => {
    const relay = await standIn();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const from = { role: 'bot' as const, name: 'Shop AI', ai: true };
    const replies = [{ label: 'Returns', value: 'returns' }];
    await relayClient.streamMessage(CONV, chunks('Sure', ', here you go.'), { id: 'ans_2', from, quickReplies: replies });
    expect(relay.steps[0]!.step).toEqual({ op: 'start', from });
    expect(relay.steps.at(-1)!.step).toEqual({ op: 'finish', text: 'Sure, here you go.', quickReplies: replies });
    expect(relay.message(CONV, 'ans_2')).toMatchObject({ from, body: { type: 'quick_replies', text: 'Sure, here you go.', replies } });
  });

  test('an iterable that throws aborts the answer (its text so far logged as incomplete) and the error is rethrown', async () => {
    const relay = await standIn();
    const failure = new Error('model overloaded');
    async function* model() {
      yield 'Half an ';
      yield 'answer';
      await sleep(120);
      throw failure;
    }
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const error = await relayClient.streamMessage(CONV, model(), { id: 'ans_3' }).catch((e: unknown) => e);
    expect(error).toBe(failure);
    expect(ops(relay.steps).filter((op) => op !== 'delta')).toEqual(['start', 'abort']);
    expect(relay.steps.at(-2)!.held).toBe('Half an answer');
    expect(relay.steps.at(-1)!.step).toEqual({ op: 'abort', reason: 'model overloaded' });
    expect(relay.message(CONV, 'ans_3')).toMatchObject({ incomplete: true, body: { type: 'text', text: 'Half an answer' } });
  });

  test('an aborted signal aborts the answer, releases the text stream and rejects with the reason', async () => {
    const relay = await standIn();
    const model = controlled();
    const controller = new AbortController();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const answer = relayClient.streamMessage(CONV, model.iterable, { id: 'ans_4', signal: controller.signal }).catch((e: unknown) => e);
    model.push('Let me check');
    await relay.waitFor(hasDelta((d) => d.text === 'Let me check'));
    controller.abort(new Error('the visitor left'));
    expect(await answer).toBe(controller.signal.reason);
    expect(ops(relay.steps)).toEqual(['start', 'delta', 'abort']);
    expect(relay.steps.at(-1)!.step).toEqual({ op: 'abort', reason: 'the visitor left' });
    expect(relay.message(CONV, 'ans_4')).toMatchObject({ incomplete: true, body: { text: 'Let me check' } });
    expect(model.state.released).toBe(true);
  });

  test('a delta answered 503 after the relay applied it is retried at the same offset, and the text is not doubled', async () => {
    let faults = 0;
    const relay = await standIn((step) => (step.op === 'delta' && faults++ === 0 ? { applyThenFail: { status: 503, code: 'NOT_READY' } } : undefined));
    const model = controlled();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const answer = relayClient.streamMessage(CONV, model.iterable, { id: 'ans_5' });
    model.push('Hello ');
    await relay.waitFor(hasDelta((d) => d.status === 200));
    model.push('world');
    await relay.waitFor(hasDelta((d) => d.offset === 6));
    model.end();
    await answer;
    expect(deltasOf(relay.steps)).toEqual([
      { offset: 0, text: 'Hello ', status: 503 },
      { offset: 0, text: 'Hello ', status: 200 },
      { offset: 6, text: 'world', status: 200 },
    ]);
    expect(relay.steps.find((s) => s.step.op === 'finish')!.held).toBe('Hello world');
    expect(relay.message(CONV, 'ans_5')!.body).toEqual({ type: 'text', text: 'Hello world' });
  });

  test('on STREAM_GAP the SDK reads the offset the relay holds with a repeated start and resends from there', async () => {
    const relay = await standIn();
    const model = controlled();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const answer = relayClient.streamMessage(CONV, model.iterable, { id: 'ans_6' });
    model.push('abcdef');
    await relay.waitFor(hasDelta((d) => d.text === 'abcdef'));
    relay.truncate(CONV, 'ans_6', 2);
    model.push('ghi');
    await relay.waitFor(hasDelta((d) => d.offset === 2));
    model.end();
    await answer;
    expect(relay.steps.map((s) => [s.step, s.status])).toEqual([
      [{ op: 'start' }, 200],
      [{ op: 'delta', offset: 0, text: 'abcdef' }, 200],
      [{ op: 'delta', offset: 6, text: 'ghi' }, 409],
      [{ op: 'start' }, 200],
      [{ op: 'delta', offset: 2, text: 'cdefghi' }, 200],
      [{ op: 'finish', text: 'abcdefghi' }, 200],
    ]);
    expect(relay.steps.at(-1)!.held).toBe('abcdefghi');
  });

  test('an id that is already a logged answer returns it as a duplicate without reading the text stream', async () => {
    const relay = await standIn();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const first = await relayClient.streamMessage(CONV, chunks('Once.'), { id: 'ans_7' });
    let read = false;
    async function* again() {
      read = true;
      yield 'Twice?';
    }
    const second = await relayClient.streamMessage(CONV, again(), { id: 'ans_7' });
    expect(second).toMatchObject({ id: 'ans_7', done: true, duplicate: true, seq: first.seq, message: first.message });
    expect(read).toBe(false);
    expect(ops(relay.steps).filter((op) => op !== 'delta')).toEqual(['start', 'finish', 'start']);
    expect(relay.steps.at(-1)!.step.op).toBe('start');
  });

  test('a delta refused for good (STREAM_ENDED) rejects with the relay error and releases the text stream', async () => {
    const relay = await standIn((step) => (step.op === 'delta' ? { respond: { status: 409, code: 'STREAM_ENDED' } } : undefined));
    const model = controlled();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const answer = relayClient.streamMessage(CONV, model.iterable, { id: 'ans_8' }).catch((e: unknown) => e);
    model.push('Too late');
    const error = await answer;
    expect(error).toBeInstanceOf(RelayError);
    expect(error).toMatchObject({ code: 'STREAM_ENDED', status: 409 });
    expect(ops(relay.steps)).toEqual(['start', 'delta', 'abort']);
    expect(model.state.released).toBe(true);
  });

  test('while the text stream is silent, a repeated start keeps the answer open; an answer closed meanwhile rejects with STREAM_ENDED', async () => {
    const relay = await standIn();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    const thinking = controlled();
    const answer = relayClient.streamMessage(CONV, thinking.iterable, { id: 'ans_k1', keepAliveMs: 60 });
    await relay.waitFor((steps) => steps.filter((s) => s.step.op === 'start').length >= 3);
    thinking.push('After some thought.');
    thinking.end();
    await answer;
    expect(ops(relay.steps).slice(0, 3)).toEqual(['start', 'start', 'start']);
    expect(relay.steps.at(-1)!.step).toEqual({ op: 'finish', text: 'After some thought.' });

    // The relay closes an answer (here: its abort, as its stall sweep would); the next keep-alive learns it.
    const stalled = controlled();
    const closed = relayClient.streamMessage(CONV, stalled.iterable, { id: 'ans_k2', keepAliveMs: 60 }).catch((e: unknown) => e);
    await relay.waitFor((steps) => steps.some((s) => s.messageId === 'ans_k2'));
    const res = await fetch(`${relay.base}/v1/conversations/${CONV}/streams/ans_k2`, {
      method: 'POST',
      headers: { authorization: `Bearer ${STREAM_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ op: 'abort', reason: 'stalled' }),
    });
    expect(res.status).toBe(200);
    expect(await closed).toMatchObject({ name: 'RelayError', code: 'STREAM_ENDED' });
    expect(stalled.state.released).toBe(true);
  });

  test('a text stream without text, or past the text limit, is aborted with STREAM_EMPTY or STREAM_TOO_LONG', async () => {
    const relay = await standIn();
    const relayClient = createRelayClient({ url: relay.base, apiSecret: STREAM_SECRET });
    expect(await relayClient.streamMessage(CONV, chunks(), { id: 'ans_9' }).catch((e: unknown) => e)).toMatchObject({ code: 'STREAM_EMPTY' });
    expect(relay.message(CONV, 'ans_9')).toMatchObject({ incomplete: true, body: { text: '…' } });
    const long = await relayClient.streamMessage(CONV, chunks('x'.repeat(3000), 'y'.repeat(1001)), { id: 'ans_10' }).catch((e: unknown) => e);
    expect(long).toMatchObject({ code: 'STREAM_TOO_LONG' });
    expect(ops(relay.steps.filter((s) => s.messageId === 'ans_10')).at(-1)).toBe('abort');
    expect(relay.message(CONV, 'ans_10')).toMatchObject({ incomplete: true });
  });
});

describe('streamMessage over the backend socket', () => {
  test('start and finish are acked; coalesced deltas go without waiting; finish carries the full text and the sources', async () => {
    const relay = await standIn();
    const conn = connect(relay);
    const words = Array.from({ length: 100 }, (_, i) => `t${i} `);
    async function* model() {
      for (let i = 0; i < words.length; i++) {
        yield words[i]!;
        if (i % 10 === 9) await sleep(5);
      }
    }
    const result = await conn.streamMessage(CONV, model(), { id: 'ans_s1', sources: SOURCES });
    const source = words.join('');
    const deltas = deltasOf(relay.steps);
    expect(ops(relay.steps)).toEqual(['start', ...deltas.map(() => 'delta'), 'finish']);
    expect(relay.steps.every((s) => s.via === 'socket')).toBe(true);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.length).toBeLessThan(20);
    expect(source.startsWith(deltas.map((d) => d.text).join(''))).toBe(true);
    expect(relay.steps.at(-1)!.step).toEqual({ op: 'finish', text: source, sources: SOURCES });
    expect(result).toEqual({ id: 'ans_s1', offset: source.length, done: true, duplicate: false, seq: 1 });
    expect(relay.message(CONV, 'ans_s1')).toMatchObject({ body: { type: 'text', text: source, sources: SOURCES } });
  });

  test('a refused delta (an error frame with the message id) fails the answer: it is aborted and the error thrown', async () => {
    const relay = await standIn((step) => (step.op === 'delta' ? { respond: { status: 400, code: 'BAD_REQUEST' } } : undefined));
    const conn = connect(relay);
    const model = controlled();
    const answer = conn.streamMessage(CONV, model.iterable, { id: 'ans_s2' }).catch((e: unknown) => e);
    model.push('Refused');
    const error = await answer;
    expect(error).toBeInstanceOf(RelayError);
    expect(error).toMatchObject({ code: 'BAD_REQUEST' });
    expect(ops(relay.steps)).toEqual(['start', 'delta', 'abort']);
    expect(model.state.released).toBe(true);
  });

  test('an iterable that throws aborts the answer and the error is rethrown', async () => {
    const relay = await standIn();
    const conn = connect(relay);
    const model = controlled();
    const failure = new Error('connection to the model reset');
    const answer = conn.streamMessage(CONV, model.iterable, { id: 'ans_s3' }).catch((e: unknown) => e);
    model.push('Partial');
    await relay.waitFor(hasDelta((d) => d.text === 'Partial'));
    model.fail(failure);
    expect(await answer).toBe(failure);
    expect(relay.steps.at(-1)!.step).toEqual({ op: 'abort', reason: 'connection to the model reset' });
    expect(relay.message(CONV, 'ans_s3')).toMatchObject({ incomplete: true, body: { text: 'Partial' } });
  });

  test('after a reconnect the text is sent again from offset 0, so nothing sent on the lost socket is missing', async () => {
    const relay = await standIn();
    const conn = connect(relay);
    const model = controlled();
    const answer = conn.streamMessage(CONV, model.iterable, { id: 'ans_s4' });
    model.push('Hello ');
    await relay.waitFor(hasDelta((d) => d.text === 'Hello '));
    const before = relay.steps.length;
    relay.dropSockets();
    await relay.waitFor(() => relay.accepted() === 2);
    model.push('world');
    await relay.waitFor((steps) => steps.slice(before).some((s) => s.step.op === 'delta' && s.held === 'Hello world'));
    model.end();
    await answer;
    const after = deltasOf(relay.steps.slice(before));
    expect(after[0]).toMatchObject({ offset: 0 });
    expect(relay.message(CONV, 'ans_s4')!.body).toEqual({ type: 'text', text: 'Hello world' });
  });

  test('on STREAM_GAP the text is sent again from offset 0', async () => {
    const relay = await standIn();
    const conn = connect(relay);
    const model = controlled();
    const answer = conn.streamMessage(CONV, model.iterable, { id: 'ans_s5' });
    model.push('abcdef');
    await relay.waitFor(hasDelta((d) => d.text === 'abcdef'));
    relay.truncate(CONV, 'ans_s5', 2);
    model.push('ghi');
    await relay.waitFor(hasDelta((d) => d.offset === 0 && d.text === 'abcdefghi'));
    model.end();
    await answer;
    expect(relay.steps.map((s) => [s.step, s.status])).toEqual([
      [{ op: 'start' }, 200],
      [{ op: 'delta', offset: 0, text: 'abcdef' }, 200],
      [{ op: 'delta', offset: 6, text: 'ghi' }, 409],
      [{ op: 'delta', offset: 0, text: 'abcdefghi' }, 200],
      [{ op: 'finish', text: 'abcdefghi' }, 200],
    ]);
    expect(relay.steps.at(-1)!.held).toBe('abcdefghi');
  });
});
