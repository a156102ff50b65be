import { afterEach, describe, expect, test } from 'vitest';
import { PAST_PAGE, PREVIEW_LENGTH, hmacSha256Hex, type MessageBody } from '@parley/protocol';
import { previewOf } from './past-conversations.js';
import { IDENTITY_SECRET, startStack, type TestClient } from './test-support/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const track = (cleanup: () => Promise<void> | void) => void cleanups.push(cleanup);

let asks = 0;
/** Ask for the list (or a page of `conversationId`) and wait for the answer naming the request. */
async function history(c: TestClient, conversationId?: string, after?: number) {
  const id = `h${++asks}`;
  c.send({ t: 'history', id, ...(conversationId !== undefined && { conversationId }), ...(after !== undefined && { after }) });
  return c.take((f) => (f.t === 'conversations' || f.t === 'history' || f.t === 'error') && f.id === id);
}

async function say(c: TestClient, id: string, text: string) {
  c.send({ t: 'send', id, body: { type: 'text', text } });
  await c.take((f) => f.t === 'ack' && f.id === id);
}

describe('past conversations over the widget socket', () => {
  test('after a closed conversation and a new one, the visitor lists the closed one and reads it, read-only, page by page', async () => {
    // Room for the long conversation below.
    const { relay, open } = await startStack(track, {}, { limits: { rateLimit: { perSecond: 1000, burst: 1000 } } });
    const first = await open();
    const w1 = await first.hello();
    await say(first, 'm1', 'Where is my parcel?');
    await relay.api('POST', `/v1/conversations/${w1.conversationId}/messages`, { id: 'r1', from: { role: 'agent', name: 'Mia' }, body: { type: 'text', text: 'It left today.' } });
    await relay.api('POST', `/v1/conversations/${w1.conversationId}/events`, { id: 'bye', event: { type: 'closed' } });
    // The conversation on screen is not a past one.
    expect(await history(first)).toMatchObject({ t: 'conversations', items: [] });

    // "Start a new conversation": a fresh hello with the visitor's token.
    const second = await open();
    const w2 = await second.hello({ token: w1.token, fresh: true });
    expect(w2.conversationId).not.toBe(w1.conversationId);
    await say(second, 'n1', 'Another question');
    const list = await history(second);
    expect(list).toEqual({ t: 'conversations', id: expect.any(String), items: [{ id: w1.conversationId, createdAt: expect.any(Number), closed: true, lastSeq: 3, preview: 'It left today.' }] });

    const page = await history(second, w1.conversationId);
    expect(page).toMatchObject({ t: 'history', conversationId: w1.conversationId, hasMore: false });
    const entries = page.t === 'history' ? page.entries : [];
    expect(entries.map((e) => [e.kind, e.seq, e.id])).toEqual([
      ['msg', 1, 'm1'],
      ['msg', 2, 'r1'],
      ['event', 3, 'bye'],
    ]);
    expect(entries[1]).toMatchObject({ from: { role: 'agent', name: 'Mia' }, body: { type: 'text', text: 'It left today.' } });
    // Reading is read-only: nothing was replayed into the new conversation, and the socket goes on.
    expect(second.msgs().map((m) => m.id)).toEqual(['n1']);
    await say(second, 'n2', 'Still here');

    // A long one pages by PAST_PAGE entries.
    for (let i = 0; i < PAST_PAGE + 5; i++) await say(second, `x${i}`, `line ${i}`);
    const third = await open();
    await third.hello({ token: w2.token, fresh: true });
    await say(third, 'z1', 'Third');
    expect(await history(third)).toMatchObject({ items: [{ id: w2.conversationId, lastSeq: PAST_PAGE + 7, preview: `line ${PAST_PAGE + 4}` }, { id: w1.conversationId }] });
    const p1 = await history(third, w2.conversationId);
    const p2 = await history(third, w2.conversationId, PAST_PAGE);
    expect(p1).toMatchObject({ hasMore: true, entries: { length: PAST_PAGE } });
    expect(p2).toMatchObject({ hasMore: false, entries: { length: 7 } });
    const seqs = [p1, p2].flatMap((p) => (p.t === 'history' ? p.entries.map((e) => e.seq) : []));
    expect(seqs).toEqual(Array.from({ length: PAST_PAGE + 7 }, (_, i) => i + 1));
  });

  test("another visitor's conversation id is NOT_FOUND, like an id that never existed, and the asker gets none of its entries", async () => {
    const { open } = await startStack(track);
    const alice = await open();
    const wa = await alice.hello();
    await say(alice, 'a1', 'my address is 1 Main St');
    const mallory = await open();
    await mallory.hello();
    await say(mallory, 'b1', 'hi');
    for (const id of [wa.conversationId, 'c_never_was']) {
      expect(await history(mallory, id)).toMatchObject({ t: 'error', code: 'NOT_FOUND' });
    }
    expect(await history(mallory)).toMatchObject({ t: 'conversations', items: [] });
    expect(JSON.stringify(mallory.frames)).not.toContain('Main St');
    // The socket is not cut for asking.
    await say(mallory, 'b2', 'still here');
  });

  test('a verified user sees the conversation they had on another device; an anonymous visitor on that device does not', async () => {
    const { relay, open } = await startStack(track);
    const signature = await hmacSha256Hex(IDENTITY_SECRET, 'user-42');
    const identity = { userId: 'user-42', signature };
    const phone = await open();
    const w1 = await phone.hello({ identity });
    await say(phone, 'p1', 'Asked on my phone');
    await relay.api('POST', `/v1/conversations/${w1.conversationId}/events`, { id: 'bye', event: { type: 'closed' } });
    const phone2 = await open();
    const w2 = await phone2.hello({ identity, token: w1.token, fresh: true });
    await say(phone2, 'p2', 'A new one on my phone');

    // The laptop has no token: the user id finds their open conversation, and their past one.
    const laptop = await open();
    const w3 = await laptop.hello({ identity });
    expect(w3.conversationId).toBe(w2.conversationId);
    expect(await history(laptop)).toMatchObject({ items: [{ id: w1.conversationId, closed: true, preview: 'Asked on my phone' }] });
    expect(await history(laptop, w1.conversationId)).toMatchObject({ t: 'history', entries: [{ id: 'p1' }, { id: 'bye' }] });

    const stranger = await open();
    await stranger.hello();
    expect(await history(stranger)).toMatchObject({ items: [] });
    expect(await history(stranger, w1.conversationId)).toMatchObject({ t: 'error', code: 'NOT_FOUND' });
    // Nor does an unsigned claim of the same user id.
    const impostor = await open();
    await impostor.hello({ identity: { userId: 'user-42' } });
    expect(await history(impostor, w1.conversationId)).toMatchObject({ t: 'error', code: 'NOT_FOUND' });
  });

  test("another site's socket never sees a site's conversations, even with the same visitor token's ids", async () => {
    const { open } = await startStack(track);
    const shop = await open();
    const w = await shop.hello();
    await say(shop, 's1', 'on the first shop');
    const other = await open();
    await other.hello({ siteKey: 'pk_other' });
    expect(await history(other, w.conversationId)).toMatchObject({ t: 'error', code: 'NOT_FOUND' });
    expect(await history(other)).toMatchObject({ items: [] });
  });
});

describe('previewOf', () => {
  const entry = (body: MessageBody) => ({ kind: 'msg' as const, seq: 1, id: 'm', ts: 1, from: { role: 'bot' as const }, body });
  test('one line of the text, a card title, a file name, a label or stars, cut to PREVIEW_LENGTH code points', () => {
    expect(previewOf(entry({ type: 'text', text: '  Hello\n\n  there  ' }))).toBe('Hello there');
    expect(previewOf(entry({ type: 'card', kind: 'product', title: 'Red shoe' }))).toBe('Red shoe');
    expect(previewOf(entry({ type: 'file', name: 'receipt.pdf', size: 1, mime: 'application/pdf', url: 'https://f.example/r.pdf' }))).toBe('receipt.pdf');
    expect(previewOf(entry({ type: 'postback', value: 'human', label: 'Talk to a human' }))).toBe('Talk to a human');
    expect(previewOf(entry({ type: 'rating', score: 4 }))).toBe('★★★★');
    expect(previewOf(entry({ type: 'text', text: ' \n ' }))).toBeUndefined();
    const long = previewOf(entry({ type: 'text', text: '😀'.repeat(PREVIEW_LENGTH + 1) }))!;
    expect([...long]).toHaveLength(PREVIEW_LENGTH);
    expect(long.endsWith('😀…')).toBe(true);
    expect(previewOf(entry({ type: 'text', text: 'x'.repeat(PREVIEW_LENGTH) }))).toBe('x'.repeat(PREVIEW_LENGTH));
  });
});
