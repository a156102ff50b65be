import { afterEach, describe, expect, test } from 'vitest';
import { connectRelay, createRelayClient } from '@parley/backend';
import type { ServerFrame } from '@parley/protocol';
import { API_SECRET, startStack, type TestClient } from './test-support/harness.js';

// `streamMessage` from @parley/backend against a real relay on port 0, over REST and over the
// backend socket, watched by a widget socket.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SOURCES = [{ title: 'Shipping', url: 'https://shop.example/help/shipping' }];

/** A relay, and a visitor whose first message stored the conversation. */
async function visitorStack() {
  const stack = await startStack((c) => void cleanups.push(c));
  const visitor = await stack.open();
  const welcome = await visitor.hello();
  visitor.send({ t: 'send', id: 'm_question', body: { type: 'text', text: 'How fast do you ship?' } });
  await visitor.take('ack');
  return { ...stack, visitor, conversationId: welcome.conversationId };
}

/** The text a widget shows for an answer while it streams: the contract's offset rule over its draft frames. */
function draftText(frames: ServerFrame[], id: string): string {
  let draft = '';
  for (const f of frames) if (f.t === 'draft' && f.id === id && f.offset <= draft.length) draft = draft.slice(0, f.offset) + f.text;
  return draft;
}

async function* words(parts: string[], pauseMs: number, failure?: Error): AsyncGenerator<string> {
  for (const part of parts) {
    yield part;
    await sleep(pauseMs);
  }
  if (failure) throw failure;
}

const PARTS = ['Orders ', 'ship ', 'within ', '24 hours ', 'from our ', 'warehouse.'];

describe('streamMessage against the relay', () => {
  test('over REST: the widget sees drafts growing, then the finished answer once, with its sources and the AI mark', async () => {
    const { relay, visitor, conversationId } = await visitorStack();
    const client = createRelayClient({ url: relay.base, apiSecret: API_SECRET });
    const result = await client.streamMessage(conversationId, words(PARTS, 30), { id: 'ans_rest', sources: SOURCES });
    const text = PARTS.join('');
    const msg = await visitor.take((f) => f.t === 'msg' && f.id === 'ans_rest');
    expect(msg).toMatchObject({ from: { role: 'bot', ai: true }, body: { type: 'text', text, sources: SOURCES } });
    expect(result).toMatchObject({ id: 'ans_rest', done: true, duplicate: false, seq: (msg as { seq: number }).seq });
    const drafts = visitor.frames.filter((f) => f.t === 'draft' && f.id === 'ans_rest');
    expect(drafts.length).toBeGreaterThan(1);
    expect(text.startsWith(draftText(visitor.frames, 'ans_rest'))).toBe(true);
    // The log holds the answer once, and no draft.
    const history = await client.history(conversationId);
    expect(history.entries.filter((e) => e.id === 'ans_rest')).toHaveLength(1);
    // The same id again is the logged answer, not a second one.
    expect(await client.streamMessage(conversationId, words(['Again?'], 0), { id: 'ans_rest' })).toMatchObject({ duplicate: true, seq: result.seq });
  });

  test('over the backend socket: a text stream that throws leaves what it wrote as an incomplete answer', async () => {
    const { relay, visitor, conversationId } = await visitorStack();
    const link = connectRelay({ url: relay.base, apiSecret: API_SECRET, onEvent: () => {}, minDelayMs: 10, maxDelayMs: 50 });
    cleanups.push(() => link.close());
    const failure = new Error('the model connection dropped');
    const error = await link.streamMessage(conversationId, words(PARTS.slice(0, 3), 80, failure), { id: 'ans_socket' }).catch((e: unknown) => e);
    expect(error).toBe(failure);
    const msg = await visitor.take((f: ServerFrame) => f.t === 'msg' && f.id === 'ans_socket');
    expect(msg).toMatchObject({ incomplete: true, from: { role: 'bot', ai: true }, body: { type: 'text', text: PARTS.slice(0, 3).join('') } });
    expect(draftText(visitor.frames, 'ans_socket')).toBe(PARTS.slice(0, 3).join(''));
  });

  test('over the backend socket: a finished answer reaches a visitor who connects after it, once, as a message', async () => {
    const { relay, open, visitor, conversationId } = await visitorStack();
    const link = connectRelay({ url: relay.base, apiSecret: API_SECRET, onEvent: () => {}, minDelayMs: 10, maxDelayMs: 50 });
    cleanups.push(() => link.close());
    const result = await link.streamMessage(conversationId, words(PARTS, 5), { id: 'ans_late', quickReplies: [{ label: 'Returns', value: 'returns' }] });
    expect(result).toMatchObject({ id: 'ans_late', done: true, duplicate: false });
    const token = (visitor.frames.find((f) => f.t === 'welcome') as Extract<ServerFrame, { t: 'welcome' }>).token;
    const later: TestClient = await open();
    await later.hello({ token, lastSeq: 0 });
    const msg = await later.take((f) => f.t === 'msg' && f.id === 'ans_late');
    expect(msg).toMatchObject({ seq: result.seq, body: { type: 'quick_replies', text: PARTS.join(''), replies: [{ label: 'Returns', value: 'returns' }] } });
    await sleep(100);
    expect(later.frames.filter((f) => f.t === 'draft')).toEqual([]);
    expect(later.frames.filter((f) => f.t === 'msg' && f.id === 'ans_late')).toHaveLength(1);
  });
});
