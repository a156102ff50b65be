import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, test } from 'vitest';
import { decodeBackendServerFrame, type BackendServerFrame, type ServerFrame } from '@parley/protocol';
import { API_SECRET, API_SECRET_2, TestClient, eventually, startRelay, startStack, testConfig } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
const track = (cleanup: () => Promise<void> | void) => void cleanups.push(cleanup);
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Draft = Extract<ServerFrame, { t: 'draft' }>;
type Msg = Extract<ServerFrame, { t: 'msg' }>;

/** What a client shows for the answer `id`, applying the draft rule to the frames in arrival order; the finished message replaces it. */
function shown(frames: readonly ServerFrame[], id: string): { text: string; final: boolean } {
  let draft = '';
  for (const f of frames) {
    if (f.t === 'msg' && f.id === id) return { text: 'text' in f.body ? f.body.text : '', final: true };
    if (f.t === 'draft' && f.id === id && f.offset <= draft.length) draft = draft.slice(0, f.offset) + f.text;
  }
  return { text: draft, final: false };
}

const draftsOf = (c: TestClient, id: string): Draft[] => c.frames.filter((f): f is Draft => f.t === 'draft' && f.id === id);
const msgsOf = (c: TestClient, id: string): Msg[] => c.msgs().filter((m) => m.id === id);

/** A stack, a widget whose conversation is stored (the visitor said hello), and the conversation id. */
async function started(options: Parameters<typeof startStack>[1] = {}, overrides: Parameters<typeof startStack>[2] = {}) {
  const stack = await startStack(track, options, overrides);
  const widget = await stack.open();
  const welcome = await widget.hello();
  widget.send({ t: 'send', id: 'hi1', body: { type: 'text', text: 'Do the boots run small?' } });
  await widget.take((f) => f.t === 'ack' && f.id === 'hi1');
  const conversationId = welcome.conversationId;
  const step = (id: string, body: unknown, secret = API_SECRET) => stack.relay.api('POST', `/v1/conversations/${conversationId}/streams/${id}`, body, secret);
  return { ...stack, widget, welcome, conversationId, step };
}

describe('streamed answers over REST', () => {
  test('a widget sees the answer grow as drafts, then one msg with the same id replaces it; another tab sees the same', async () => {
    const { widget, welcome, open, step, relay, conversationId } = await started();
    const tab = await open();
    await tab.hello({ token: welcome.token, lastSeq: 1 });

    expect(await step('a1', { op: 'start' })).toEqual({ status: 200, json: { id: 'a1', offset: 0, done: false, duplicate: false } });
    const words = ['They ', 'run ', 'half ', 'a ', 'size ', 'small.'];
    let offset = 0;
    for (const word of words) {
      const res = await step('a1', { op: 'delta', offset, text: word });
      offset += word.length;
      expect(res).toEqual({ status: 200, json: { id: 'a1', offset, done: false, duplicate: false } });
    }
    await eventually(() => shown(widget.frames, 'a1').text === words.join(''));
    expect(msgsOf(widget, 'a1')).toEqual([]);

    const sources = [{ title: 'Size guide', url: 'https://shop.example/sizes' }];
    const done = await step('a1', { op: 'finish', sources });
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ id: 'a1', offset: 27, done: true, duplicate: false, message: { id: 'a1', seq: 2, from: { role: 'bot', ai: true }, body: { type: 'text', text: words.join(''), sources } } });
    for (const c of [widget, tab]) {
      const msg = await c.take((f) => f.t === 'msg' && f.id === 'a1');
      expect(msg).toMatchObject({ seq: 2, from: { role: 'bot', ai: true }, body: { type: 'text', text: 'They run half a size small.', sources } });
      expect(msg).not.toHaveProperty('incomplete');
      // The drafts came first, starting with an empty one, each with the offset it starts at.
      const drafts = draftsOf(c, 'a1');
      expect(drafts.map((d) => [d.offset, d.text])).toEqual([[0, ''], ...words.map((w, i) => [words.slice(0, i).join('').length, w])]);
      expect(c.frames.indexOf(msg)).toBeGreaterThan(c.frames.indexOf(drafts[drafts.length - 1]!));
      expect(msgsOf(c, 'a1')).toHaveLength(1);
    }
    // The finished answer is an ordinary logged message.
    const history = await relay.api('GET', `/v1/conversations/${conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string; seq: number }) => [e.id, e.seq])).toEqual([
      ['hi1', 1],
      ['a1', 2],
    ]);
  });

  test('steps are idempotent: a repeated start answers the state, a repeated delta appends and fans out nothing, a repeated finish answers the message', async () => {
    const { widget, step } = await started();
    await step('a1', { op: 'start', from: { role: 'bot', name: 'Sizing bot' } });
    await step('a1', { op: 'delta', offset: 0, text: 'Hello' });
    expect((await step('a1', { op: 'start' })).json).toEqual({ id: 'a1', offset: 5, done: false, duplicate: true });
    expect((await step('a1', { op: 'delta', offset: 0, text: 'Hello' })).json).toEqual({ id: 'a1', offset: 5, done: false, duplicate: true });
    expect((await step('a1', { op: 'delta', offset: 3, text: 'lo there' })).json).toEqual({ id: 'a1', offset: 11, done: false, duplicate: false });
    const first = await step('a1', { op: 'finish' });
    const again = await step('a1', { op: 'finish' });
    expect(again.json).toEqual({ ...first.json, duplicate: true });
    expect((await step('a1', { op: 'start' })).json).toEqual({ ...first.json, duplicate: true });
    expect(first.json.message).toMatchObject({ from: { role: 'bot', name: 'Sizing bot' }, body: { text: 'Hello there' } });
    await widget.take((f) => f.t === 'msg' && f.id === 'a1');
    expect(draftsOf(widget, 'a1').map((d) => [d.offset, d.text])).toEqual([
      [0, ''],
      [0, 'Hello'],
      [5, ' there'],
    ]);
    expect(msgsOf(widget, 'a1')).toHaveLength(1);
  });

  test('a gap is refused with STREAM_GAP naming the held offset; a delta after the finish gets STREAM_ENDED; an unknown answer STREAM_NOT_FOUND', async () => {
    const { step } = await started();
    await step('a1', { op: 'start' });
    await step('a1', { op: 'delta', offset: 0, text: 'Twelve chars' });
    const gap = await step('a1', { op: 'delta', offset: 20, text: 'more' });
    expect(gap.status).toBe(409);
    expect(gap.json.error.code).toBe('STREAM_GAP');
    expect(gap.json.error.message).toMatch(/resend from offset 12\b/);
    expect((await step('a1', { op: 'start' })).json.offset).toBe(12);
    await step('a1', { op: 'finish' });
    expect(await step('a1', { op: 'delta', offset: 12, text: '!' })).toMatchObject({ status: 409, json: { error: { code: 'STREAM_ENDED' } } });
    expect(await step('nope', { op: 'delta', offset: 0, text: 'x' })).toMatchObject({ status: 404, json: { error: { code: 'STREAM_NOT_FOUND' } } });
    expect(await step('nope', { op: 'finish', text: 'x' })).toMatchObject({ status: 404, json: { error: { code: 'STREAM_NOT_FOUND' } } });
    expect(await step('nope', { op: 'abort' })).toMatchObject({ status: 404, json: { error: { code: 'STREAM_NOT_FOUND' } } });
  });

  test('bad steps are refused with BAD_REQUEST and change nothing; a text past the limit too', async () => {
    const { step, widget } = await started();
    await step('a1', { op: 'start' });
    for (const body of [{ op: 'delta', offset: -1, text: 'x' }, { op: 'delta', offset: 0, text: '' }, { op: 'jump' }, { op: 'finish', sources: [{ title: 'x', url: 'javascript:alert(1)' }] }, { op: 'delta', offset: 0, text: 'a\ud800' }]) {
      expect(await step('a1', body), JSON.stringify(body)).toMatchObject({ status: 400, json: { error: { code: 'BAD_REQUEST' } } });
    }
    expect(await step('bad id!', { op: 'start' })).toMatchObject({ status: 400, json: { error: { code: 'BAD_REQUEST' } } });
    await step('a1', { op: 'delta', offset: 0, text: 'x'.repeat(3990) });
    const over = await step('a1', { op: 'delta', offset: 3990, text: 'y'.repeat(11) });
    expect(over).toMatchObject({ status: 400, json: { error: { code: 'BAD_REQUEST' } } });
    expect(over.json.error.message).toMatch(/4000 characters/);
    expect((await step('a1', { op: 'start' })).json.offset).toBe(3990);
    // A finish with nothing written has nothing to log.
    await step('a2', { op: 'start' });
    expect(await step('a2', { op: 'finish' })).toMatchObject({ status: 400, json: { error: { code: 'BAD_REQUEST' } } });
    expect(widget.msgs().map((m) => m.id)).toEqual(['hi1']);
  });

  test("another site's conversation is refused like an unknown one, and nothing is streamed to it", async () => {
    const { step, widget } = await started();
    expect(await step('a1', { op: 'start' }, API_SECRET_2)).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } });
    expect(await step('a1', { op: 'start' }, 'wrong_secret_0123456789')).toMatchObject({ status: 401, json: { error: { code: 'UNAUTHORIZED' } } });
    expect((await step('a1', { op: 'delta', offset: 0, text: 'x' })).json.error.code).toBe('STREAM_NOT_FOUND');
    expect(draftsOf(widget, 'a1')).toEqual([]);
  });

  test('abort logs the text so far marked incomplete, and widgets get it as a msg', async () => {
    const { step, widget } = await started();
    await step('a1', { op: 'start' });
    await step('a1', { op: 'delta', offset: 0, text: 'Let me check the' });
    const aborted = await step('a1', { op: 'abort', reason: 'model error' });
    expect(aborted.json).toMatchObject({ done: true, duplicate: false, message: { id: 'a1', incomplete: true, body: { type: 'text', text: 'Let me check the' } } });
    expect(await widget.take((f) => f.t === 'msg' && f.id === 'a1')).toMatchObject({ incomplete: true, body: { text: 'Let me check the' } });
    expect((await step('a1', { op: 'abort' })).json).toMatchObject({ duplicate: true, message: { seq: aborted.json.message.seq } });
  });

  test('a widget that reconnects mid-answer gets the text so far once, as a draft from offset 0 after the replay, then the rest and the msg once', async () => {
    const { widget, welcome, open, step } = await started();
    await step('a1', { op: 'start' });
    await step('a1', { op: 'delta', offset: 0, text: 'Part one, ' });
    await eventually(() => shown(widget.frames, 'a1').text === 'Part one, ');
    widget.close();
    await widget.waitClosed();
    await step('a1', { op: 'delta', offset: 10, text: 'part two, ' });

    const again = await open();
    await again.hello({ token: welcome.token, lastSeq: 0 });
    const snapshot = await again.take('draft');
    expect(snapshot).toMatchObject({ id: 'a1', offset: 0, text: 'Part one, part two, ', from: { role: 'bot', ai: true } });
    // After the welcome and the replay of the visitor's message.
    const replayed = again.frames.findIndex((f) => f.t === 'msg' && f.id === 'hi1');
    expect(replayed).toBeGreaterThan(again.frames.findIndex((f) => f.t === 'welcome'));
    expect(again.frames.indexOf(snapshot)).toBeGreaterThan(replayed);

    await step('a1', { op: 'delta', offset: 20, text: 'part three.' });
    await step('a1', { op: 'finish' });
    await again.take((f) => f.t === 'msg' && f.id === 'a1');
    expect(draftsOf(again, 'a1').map((d) => [d.offset, d.text])).toEqual([
      [0, 'Part one, part two, '],
      [20, 'part three.'],
    ]);
    expect(msgsOf(again, 'a1')).toHaveLength(1);
    expect(shown(again.frames, 'a1')).toEqual({ text: 'Part one, part two, part three.', final: true });

    // A socket joining after the finish gets the message in the replay and no draft.
    const late = await open();
    await late.hello({ token: welcome.token, lastSeq: 0 });
    await late.take((f) => f.t === 'msg' && f.id === 'a1');
    expect(draftsOf(late, 'a1')).toEqual([]);
  });

  test('a stalled answer is closed by the relay: its text so far is logged incomplete and pushed, and later steps find it ended', async () => {
    const { widget, step, relay, backend, conversationId } = await started({ limits: { streamStallMs: 200 }, streamSweepMs: 20 });
    await step('a1', { op: 'start' });
    await step('a1', { op: 'delta', offset: 0, text: 'I was about to say' });
    const msg = await widget.take((f) => f.t === 'msg' && f.id === 'a1');
    expect(msg).toMatchObject({ seq: 2, incomplete: true, from: { role: 'bot', ai: true }, body: { type: 'text', text: 'I was about to say' } });
    expect(await step('a1', { op: 'delta', offset: 18, text: '...' })).toMatchObject({ status: 409, json: { error: { code: 'STREAM_ENDED' } } });
    expect((await step('a1', { op: 'finish' })).json).toMatchObject({ done: true, duplicate: true, message: { incomplete: true } });
    const history = await relay.api('GET', `/v1/conversations/${conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string; incomplete?: boolean }) => [e.id, e.incomplete ?? false])).toEqual([
      ['hi1', false],
      ['a1', true],
    ]);
    // An answer that got nothing at all is logged as '…'.
    await step('a2', { op: 'start' });
    expect(await widget.take((f) => f.t === 'msg' && f.id === 'a2')).toMatchObject({ incomplete: true, body: { text: '…' } });
    const metrics = await fetch(`${relay.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/parley_streams_total\{result="stalled"\} 2/);
    expect(metrics).toMatch(/parley_streams_total\{result="started"\} 2/);
    // The backend hears of the visitor's message only: an answer is the backend's own.
    await backend.waitFor((all) => all.some((r) => r.json.type === 'message.created'));
    expect(backend.received.map((r) => r.json.type)).not.toContain('message.feedback');
    expect(backend.received.filter((r) => 'message' in r.json.data && r.json.data.message.id === 'a1')).toEqual([]);
  });
});

describe('feedback', () => {
  test('a 👎 with a comment reaches the backend as message.feedback once, even when the frame is sent twice', async () => {
    const { widget, step, backend, conversationId } = await started();
    await step('a1', { op: 'start' });
    await step('a1', { op: 'delta', offset: 0, text: 'Size 42.' });
    await step('a1', { op: 'finish' });
    await widget.take((f) => f.t === 'msg' && f.id === 'a1');
    const frame = { t: 'feedback', id: 'fb1', messageId: 'a1', value: 'down', comment: 'I asked about 43' };
    widget.send(frame);
    widget.send(frame);
    await backend.waitFor((all) => all.some((r) => r.json.type === 'message.feedback'));
    // Sent again after it was delivered (a resend after a reconnect), then another one.
    widget.send(frame);
    widget.send({ t: 'feedback', id: 'fb2', messageId: 'a1', value: 'up' });
    // Events of a conversation go out in order: once fb2 arrived, a second fb1 would have too.
    await backend.waitFor((all) => all.some((r) => r.json.type === 'message.feedback' && r.json.data.value === 'up'));
    const feedback = backend.received.filter((r) => r.json.type === 'message.feedback');
    expect(feedback.map((r) => r.json.data)).toEqual([
      { messageId: 'a1', value: 'down', comment: 'I asked about 43' },
      { messageId: 'a1', value: 'up' },
    ]);
    expect(feedback[0]!.json).toMatchObject({ conversationId, siteKey: 'pk_test', visitor: { id: expect.any(String) } });
    expect(new Set(feedback.map((r) => r.headers['webhook-id'])).size).toBe(2);
    expect(widget.frames.filter((f) => f.t === 'error')).toEqual([]);
  });

  test('feedback on a visitor message, an unknown id, or before the conversation is stored gets NOT_FOUND naming the frame', async () => {
    const { widget, open, backend } = await started();
    widget.send({ t: 'feedback', id: 'fb1', messageId: 'hi1', value: 'up' });
    expect(await widget.take('error')).toMatchObject({ code: 'NOT_FOUND', id: 'fb1' });
    widget.send({ t: 'feedback', id: 'fb2', messageId: 'nope', value: 'up' });
    expect(await widget.take('error')).toMatchObject({ code: 'NOT_FOUND', id: 'fb2' });
    const fresh = await open();
    await fresh.hello();
    fresh.send({ t: 'feedback', id: 'fb3', messageId: 'hi1', value: 'down' });
    expect(await fresh.take('error')).toMatchObject({ code: 'NOT_FOUND', id: 'fb3' });
    await backend.waitFor((all) => all.some((r) => r.json.type === 'message.created'));
    expect(backend.received.map((r) => r.json.type)).not.toContain('message.feedback');
  });
});

/** A raw backend socket recording every frame. */
async function backendSocket(base: string): Promise<{ frames: BackendServerFrame[]; send: (frame: unknown) => void; close: () => void }> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/backend`, { headers: { authorization: `Bearer ${API_SECRET}` } });
  const frames: BackendServerFrame[] = [];
  ws.on('message', (data) => {
    const r = decodeBackendServerFrame(data.toString());
    if (!r.ok) throw new Error(`relay sent an invalid backend frame: ${r.message}`);
    frames.push(r.frame);
    if (r.frame.t === 'event') ws.send(JSON.stringify({ t: 'ack', id: r.frame.event.id }));
  });
  ws.on('error', () => {});
  await eventually(() => frames.some((f) => f.t === 'ready'));
  return { frames, send: (frame) => ws.send(JSON.stringify(frame)), close: () => ws.close() };
}

describe('streamed answers over the backend socket', () => {
  test('start and finish are acked, deltas are answered only when refused, and steps apply in arrival order', async () => {
    const { widget, relay, conversationId } = await started();
    const backend = await backendSocket(relay.base);
    track(backend.close);
    const frame = (op: object) => ({ t: 'stream', id: 'a1', conversationId, ...op });
    backend.send(frame({ op: 'start' }));
    const words = ['Sent ', 'one ', 'frame ', 'at ', 'a ', 'time.'];
    let offset = 0;
    for (const word of words) {
      backend.send(frame({ op: 'delta', offset, text: word }));
      offset += word.length;
    }
    backend.send(frame({ op: 'delta', offset: 99, text: 'gap' }));
    backend.send(frame({ op: 'finish', quickReplies: [{ label: 'Thanks', value: 'thanks' }] }));
    backend.send(frame({ op: 'finish' }));
    backend.send(frame({ op: 'delta', offset, text: 'late' }));
    backend.send({ t: 'stream', id: 'zz', conversationId, op: 'delta', offset: 0, text: 'x' });

    const msg = await widget.take((f) => f.t === 'msg' && f.id === 'a1');
    expect(msg).toMatchObject({ seq: 2, body: { type: 'quick_replies', text: words.join(''), replies: [{ label: 'Thanks', value: 'thanks' }] } });
    expect(shown(widget.frames, 'a1')).toEqual({ text: words.join(''), final: true });
    await eventually(() => backend.frames.some((f) => f.t === 'error' && f.id === 'zz'));
    const answers = backend.frames.filter((f) => f.t === 'ack' || f.t === 'error');
    expect(answers).toEqual([
      { t: 'ack', id: 'a1', duplicate: false },
      { t: 'error', id: 'a1', code: 'STREAM_GAP', message: expect.stringMatching(/resend from offset 25\b/) },
      { t: 'ack', id: 'a1', seq: 2, duplicate: false },
      { t: 'ack', id: 'a1', seq: 2, duplicate: true },
      { t: 'error', id: 'a1', code: 'STREAM_ENDED', message: expect.any(String) },
      { t: 'error', id: 'zz', code: 'STREAM_NOT_FOUND', message: expect.any(String) },
    ]);
  });
});

describe('streamed answers on the sqlite engine', () => {
  test('the finished answer is durable like any message; an open snapshot is not in the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-streams-'));
    track(() => rmSync(dir, { recursive: true, force: true }));
    const engine = { type: 'sqlite' as const, path: join(dir, 'parley.db') };
    const first = await started({}, { engine });
    await first.step('a1', { op: 'start' });
    await first.step('a1', { op: 'delta', offset: 0, text: 'Kept on disk.' });
    await first.step('a1', { op: 'finish' });
    await first.step('a2', { op: 'start' });
    await first.step('a2', { op: 'delta', offset: 0, text: 'Still writing' });
    await first.relay.close();

    const relay = await startRelay(testConfig(first.backend.url, { engine }));
    track(relay.close);
    const history = await relay.api('GET', `/v1/conversations/${first.conversationId}/messages`);
    expect(history.json.entries.map((e: { id: string }) => e.id)).toEqual(['hi1', 'a1']);
    expect(history.json.entries[1]).toMatchObject({ body: { text: 'Kept on disk.' }, from: { role: 'bot', ai: true } });
    // The answer still being written resumes where it was.
    const step = (id: string, body: unknown) => relay.api('POST', `/v1/conversations/${first.conversationId}/streams/${id}`, body);
    expect((await step('a2', { op: 'start' })).json).toEqual({ id: 'a2', offset: 13, done: false, duplicate: true });
    const widget = await TestClient.open(relay.wsUrl);
    track(() => widget.close());
    await widget.hello({ token: first.welcome.token, lastSeq: 2 });
    expect(await widget.take('draft')).toMatchObject({ id: 'a2', offset: 0, text: 'Still writing' });
  });
});
