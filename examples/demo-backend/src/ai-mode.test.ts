// The demo backend's AI mode and the feedback it receives, against a stand-in relay that
// records every stream step.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HANDOFF_VALUE } from '@parley/protocol';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { startDemoBackend, type DemoBackend, type DemoBackendOptions } from './demo-backend.js';
import { API_SECRET, WEBHOOK_SECRET, consoleApi, deliver, startFakeRelay, visitorMessage, webhookEvent, type FakeRelay } from './test-support.js';

const SHOP = 'http://shop.test';
let relay: FakeRelay;
let backend: DemoBackend | undefined;

async function start(extra: Partial<DemoBackendOptions> = {}) {
  backend = await startDemoBackend({
    port: 0,
    relayUrl: relay.url,
    apiSecret: API_SECRET,
    webhookSecret: WEBHOOK_SECRET,
    shopUrl: SHOP,
    log: () => {},
    bot: 'ai',
    aiWordMs: 0,
    ...extra,
  });
  await backend.settled();
  return backend;
}

beforeEach(async () => {
  relay = await startFakeRelay();
});

afterEach(async () => {
  await backend?.close();
  backend = undefined;
  await relay.close();
});

const until = (fn: () => void) => vi.waitFor(fn, { timeout: 5000, interval: 10 });
const ops = (steps: any[]) => steps.map((s) => s.op);
const deltaText = (steps: any[]) => steps.filter((s) => s.op === 'delta').reduce((text, s) => text.slice(0, s.offset) + s.text, '');

describe('AI mode', () => {
  test('typed questions are answered by a stream: the deltas write the answer from its start, finished with its sources and buttons, signed as the AI', async () => {
    const b = await start({ aiWordMs: 5 });
    const { status } = await deliver(b.url, visitorMessage('c_ai', { type: 'text', text: 'How long does shipping take?' }));
    expect(status).toBe(204); // nothing inline: the answer streams
    await b.settled();
    const steps = relay.streamSteps('c_ai');
    expect(steps[0]).toMatchObject({ op: 'start', from: { role: 'bot', ai: true, name: 'Parley AI' } });
    expect(steps.at(-1).op).toBe('finish');
    expect(ops(steps).filter((op) => op === 'delta').length).toBeGreaterThan(1);
    const finish = steps.at(-1);
    // The deltas write the answer from its start; the finish carries the whole text.
    expect(deltaText(steps).length).toBeGreaterThan(0);
    expect(finish.text.startsWith(deltaText(steps))).toBe(true);
    expect(finish.text).toMatch(/^Orders placed before 3 pm ship the same day\./);
    expect(finish.sources).toEqual([{ title: 'Shipping and delivery times', url: `${SHOP}/help.html#shipping` }]);
    expect(finish.quickReplies).toContainEqual({ label: 'Talk to a human', value: HANDOFF_VALUE });
    expect(new Set(steps.map((s) => s.messageId)).size).toBe(1);
    // The console's transcript shows the answer as the AI's, with its sequence number.
    const { data } = await consoleApi(b.url, 'GET', '/console/api/conversations/c_ai');
    expect(data.entries.at(-1)).toMatchObject({ id: steps[0].messageId, from: { ai: true }, body: { type: 'quick_replies', text: finish.text }, seq: expect.any(Number) });
  });

  test('answers in the visitor\'s language', async () => {
    const b = await start();
    await deliver(b.url, visitorMessage('c_zh', { type: 'text', text: '可以退货吗' }));
    await b.settled();
    const finish = relay.streamSteps('c_zh').at(-1);
    expect(finish.text).toContain('30 天内可免费退货');
    expect(finish.quickReplies.map((r: any) => r.label)).toContain('转人工');
  });

  test('buttons still get the FAQ bot\'s instant answer, and "human" still asks for one', async () => {
    const b = await start();
    const tapped = await deliver(b.url, visitorMessage('c_btn', { type: 'postback', value: 'returns', label: 'Returns' }, 'postback'));
    expect(tapped.reply.messages[0]).toMatchObject({ from: { role: 'bot', name: 'Parley Bot' }, body: { type: 'quick_replies' } });
    const human = await deliver(b.url, visitorMessage('c_btn', { type: 'text', text: 'Can I talk to a human?' }));
    expect(human.reply.messages[0].body.text).toMatch(/connecting you to a human/i);
    await b.settled();
    expect(relay.streamSteps('c_btn')).toEqual([]);
  });

  test('asking for a human mid-answer stops the AI: the text so far is logged incomplete', async () => {
    const b = await start({ aiWordMs: 40 });
    await deliver(b.url, visitorMessage('c_stop', { type: 'text', text: 'How long does shipping take?' }));
    await until(() => expect(ops(relay.streamSteps('c_stop'))).toContain('delta'));
    await deliver(b.url, visitorMessage('c_stop', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
    await b.settled();
    const steps = relay.streamSteps('c_stop');
    expect(steps.at(-1)).toMatchObject({ op: 'abort', reason: 'The visitor asked for a human.' });
    expect(ops(steps)).not.toContain('finish');
    const { data } = await consoleApi(b.url, 'GET', '/console/api/conversations/c_stop');
    const answer = data.entries.find((e: any) => e.id === steps[0].messageId);
    expect(answer).toMatchObject({ incomplete: true, from: { ai: true } });
    expect('Orders placed before 3 pm ship the same day.').toContain(answer.body.text.trim());
    // No "broke off" apology: the visitor is being handed over.
    expect(relay.messages('c_stop')).toEqual([]);
  });

  test('asking for a human also drops the questions waiting for their answer', async () => {
    const b = await start({ aiWordMs: 40 });
    await deliver(b.url, visitorMessage('c_queue', { type: 'text', text: 'How long does shipping take?' }));
    await deliver(b.url, visitorMessage('c_queue', { type: 'text', text: 'Can I pay with PayPal?' }));
    await until(() => expect(ops(relay.streamSteps('c_queue'))).toContain('delta'));
    await deliver(b.url, visitorMessage('c_queue', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
    await b.settled();
    const steps = relay.streamSteps('c_queue');
    expect(ops(steps)).not.toContain('finish');
    expect(new Set(steps.map((s) => s.messageId)).size).toBe(1); // the second answer never started
  });

  test('a model that fails mid-answer: the answer is aborted and the visitor is offered a human first', async () => {
    const b = await start({
      async *aiWrite(text) {
        yield* text.split(' ').slice(0, 3).map((w) => `${w} `);
        throw new Error('The model connection was lost.');
      },
    });
    await deliver(b.url, visitorMessage('c_fail', { type: 'text', text: 'How long does shipping take?' }));
    await b.settled();
    expect(relay.streamSteps('c_fail').at(-1)).toMatchObject({ op: 'abort', reason: 'The model connection was lost.' });
    const [apology] = relay.messages('c_fail');
    expect(apology).toMatchObject({ from: { role: 'bot', ai: true }, body: { type: 'quick_replies', text: expect.stringMatching(/broke off/) } });
    expect(apology.body.replies[0]).toEqual({ label: 'Talk to a human', value: HANDOFF_VALUE });
  });

  test('the same question delivered again, to a backend with no memory of it, gets the answer already logged', async () => {
    const first = await start();
    const question = visitorMessage('c_again', { type: 'text', text: 'Can I pay with PayPal?' });
    await deliver(first.url, question);
    await first.settled();
    await first.close();
    const second = await start();
    await deliver(second.url, question);
    await second.settled();
    const steps = relay.streamSteps('c_again');
    expect(ops(steps).filter((op) => op === 'finish')).toHaveLength(1);
    expect(steps.at(-1)).toMatchObject({ op: 'start', messageId: steps[0].messageId });
  });

  test('a second question waits for the first answer to finish', async () => {
    const b = await start({ aiWordMs: 5 });
    await deliver(b.url, visitorMessage('c_two', { type: 'text', text: 'How long does shipping take?' }));
    await deliver(b.url, visitorMessage('c_two', { type: 'text', text: 'Can I pay with PayPal?' }));
    await b.settled();
    const steps = relay.streamSteps('c_two');
    const firstId = steps[0].messageId;
    const lastOfFirst = steps.map((s) => s.messageId).lastIndexOf(firstId);
    const firstOfSecond = steps.findIndex((s) => s.messageId !== firstId);
    expect(steps[lastOfFirst].op).toBe('finish');
    expect(lastOfFirst).toBeLessThan(firstOfSecond);
    expect(steps.at(-1)).toMatchObject({ op: 'finish', text: expect.stringMatching(/PayPal/) });
  });
});

describe('feedback on AI answers', () => {
  test('a verified message.feedback is listed in the console with the answer it rates; the latest choice wins', async () => {
    const b = await start();
    await deliver(b.url, visitorMessage('c_fb', { type: 'text', text: 'Can I pay with PayPal?' }));
    await b.settled();
    const messageId = relay.streamSteps('c_fb')[0].messageId;
    expect((await deliver(b.url, webhookEvent('message.feedback', 'c_fb', { messageId, value: 'down', comment: 'Too short' }))).status).toBe(204);
    let state = (await consoleApi(b.url, 'GET', '/console/api/state')).data;
    expect(state.feedback).toEqual([
      { conversationId: 'c_fb', messageId, value: 'down', comment: 'Too short', ts: expect.any(Number), answer: expect.stringMatching(/^We accept Visa/) },
    ]);
    await deliver(b.url, webhookEvent('message.feedback', 'c_fb', { messageId, value: 'up' }));
    state = (await consoleApi(b.url, 'GET', '/console/api/state')).data;
    expect(state.feedback).toEqual([expect.objectContaining({ messageId, value: 'up' })]);
    expect(state.feedback[0].comment).toBeUndefined();
  });

  test('feedback with a bad signature is refused and not recorded', async () => {
    const b = await start();
    const forged = await deliver(b.url, webhookEvent('message.feedback', 'c_forged', { messageId: 'msg_x', value: 'up' }), 'whsec_' + Buffer.from('wrong').toString('base64'));
    expect(forged.status).toBe(401);
    expect((await consoleApi(b.url, 'GET', '/console/api/state')).data.feedback).toEqual([]);
  });

  test('feedback is kept across a restart with a data folder', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-demo-feedback-'));
    try {
      const first = await start({ dataDir });
      await deliver(first.url, webhookEvent('message.feedback', 'c_keep', { messageId: 'msg_kept', value: 'up', comment: 'Spot on' }));
      await first.close();
      const second = await start({ dataDir });
      expect((await consoleApi(second.url, 'GET', '/console/api/state')).data.feedback).toEqual([expect.objectContaining({ messageId: 'msg_kept', value: 'up', comment: 'Spot on' })]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
