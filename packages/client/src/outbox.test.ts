import { describe, expect, test } from 'vitest';
import { MAX_TRIES, createOutbox } from './outbox.js';
import type { ChatMessage } from './types.js';

const text = (t: string) => ({ type: 'text' as const, text: t });

describe('outbox', () => {
  test('a new message gets a unique nanoid and shows at once as sending', () => {
    const changes: ChatMessage[][] = [];
    const box = createOutbox([], (items) => changes.push(items));
    const a = box.add(text('a'), 1);
    const b = box.add(text('b'), 2);
    expect(a.id).toMatch(/^[\w-]{21}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.status).toBe('sending');
    expect(changes.at(-1)!.map((m) => m.id)).toEqual([a.id, b.id]);
  });

  test('an ack takes the message out as sent, with its sequence number and the relay time', () => {
    const box = createOutbox([], () => {});
    const a = box.add(text('a'), 1);
    expect(box.ack(a.id, 7, 99)).toMatchObject({ id: a.id, seq: 7, ts: 99, status: 'sent' });
    expect(box.items()).toEqual([]);
    expect(box.ack(a.id, 7, 99)).toBeUndefined();
  });

  test('unacked messages are due on every connection, until they fail after MAX_TRIES', () => {
    const box = createOutbox([], () => {});
    const a = box.add(text('a'), 1);
    for (let i = 0; i < MAX_TRIES; i++) expect(box.due().send.map((m) => m.id)).toEqual([a.id]);
    const last = box.due();
    expect(last.send).toEqual([]);
    expect(last.failed).toMatchObject([{ id: a.id, status: 'failed' }]);
    expect(box.due().send).toEqual([]);
  });

  test('a failed message can be retried with a fresh budget; others cannot', () => {
    const box = createOutbox([], () => {});
    const a = box.add(text('a'), 1);
    const b = box.add(text('b'), 2);
    expect(box.retry(a.id)).toBeUndefined();
    expect(box.fail(a.id)!.status).toBe('failed');
    expect(box.due().send.map((m) => m.id)).toEqual([b.id]);
    expect(box.retry(a.id)!.status).toBe('sending');
    expect(box.due(a.id).send.map((m) => m.id)).toEqual([a.id]);
  });

  test('items are replaced, not mutated, on a status change', () => {
    const box = createOutbox([], () => {});
    const a = box.add(text('a'), 1);
    box.fail(a.id);
    expect(a.status).toBe('sending');
    expect(box.items()[0]).not.toBe(a);
  });

  test('adopts queued messages from another tab, except known or present ones', () => {
    const box = createOutbox([], () => {});
    const mine = box.add(text('mine'), 1);
    const other: ChatMessage = { ...mine, id: 'other-tab-1' };
    const acked: ChatMessage = { ...mine, id: 'acked-1' };
    box.adopt([mine, other, acked], (id) => id === 'acked-1');
    expect(box.items().map((m) => m.id)).toEqual([mine.id, 'other-tab-1']);
  });
});
