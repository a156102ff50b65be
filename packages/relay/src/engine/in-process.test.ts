import { describe, expect, it } from 'vitest';
import { LocalFanout } from './in-process.js';
import { conversationTopic, topicOf, type FanoutItem } from './types.js';

const entry = (conversationId: string, seq: number) =>
  ({ kind: 'entry', conversationId, entry: { kind: 'msg', seq, id: `m${seq}`, ts: seq, from: { role: 'visitor' }, body: { type: 'text', text: 'hi' } } }) as Extract<FanoutItem, { kind: 'entry' }>;

describe('LocalFanout', () => {
  it('gives each item to the listeners of its topic only', () => {
    const fanout = new LocalFanout(() => {});
    const a: number[] = [];
    const b: number[] = [];
    fanout.subscribe(conversationTopic('c1'), (item) => a.push((item as ReturnType<typeof entry>).entry.seq));
    fanout.subscribe(conversationTopic('c2'), (item) => b.push((item as ReturnType<typeof entry>).entry.seq));
    fanout.deliver(entry('c1', 1));
    fanout.deliver(entry('c2', 2));
    fanout.deliver(entry('c3', 3));
    expect(a).toEqual([1]);
    expect(b).toEqual([2]);
  });

  it('counts one function subscribed twice as two subscriptions, each ended once on its own', () => {
    const fanout = new LocalFanout(() => {});
    const got: number[] = [];
    const listener = (item: FanoutItem) => got.push((item as ReturnType<typeof entry>).entry.seq);
    const first = fanout.subscribe(conversationTopic('c1'), listener);
    fanout.subscribe(conversationTopic('c1'), listener);
    fanout.deliver(entry('c1', 1));
    expect(got).toEqual([1, 1]);
    first();
    first();
    fanout.deliver(entry('c1', 2));
    expect(got).toEqual([1, 1, 2]);
  });

  it('hands an item to those subscribed when it came: a listener subscribed during a delivery gets the next one', () => {
    const fanout = new LocalFanout(() => {});
    const late: number[] = [];
    let subscribed = false;
    fanout.subscribe(conversationTopic('c1'), () => {
      if (subscribed) return;
      subscribed = true;
      fanout.subscribe(conversationTopic('c1'), (item) => late.push((item as ReturnType<typeof entry>).entry.seq));
    });
    fanout.deliver(entry('c1', 1));
    expect(late).toEqual([]);
    fanout.deliver(entry('c1', 2));
    expect(late).toEqual([2]);
  });

  it('keeps delivering to the others when a listener throws, and reports the error', () => {
    const errors: unknown[] = [];
    const fanout = new LocalFanout((e) => errors.push(e));
    const got: number[] = [];
    fanout.subscribe(conversationTopic('c1'), () => {
      throw new Error('boom');
    });
    const stop = fanout.subscribe(conversationTopic('c1'), (item) => got.push((item as ReturnType<typeof entry>).entry.seq));
    fanout.deliver(entry('c1', 1));
    expect(got).toEqual([1]);
    expect(errors).toHaveLength(1);
    stop();
    fanout.deliver(entry('c1', 2));
    expect(got).toEqual([1]);
    expect(errors).toHaveLength(2);
  });

  it("gives subscribeAll every topic's items, after the topic's own listeners, until it ends", () => {
    const errors: unknown[] = [];
    const fanout = new LocalFanout((e) => errors.push(e));
    const order: string[] = [];
    fanout.subscribe(conversationTopic('c1'), (item) => order.push(`c1:${(item as ReturnType<typeof entry>).entry.seq}`));
    fanout.subscribeAll(() => {
      throw new Error('boom');
    });
    const stop = fanout.subscribeAll((item) => order.push(`all ${topicOf(item as ReturnType<typeof entry>)}:${(item as ReturnType<typeof entry>).entry.seq}`));
    fanout.deliver(entry('c1', 1));
    fanout.deliver(entry('c2', 2));
    stop();
    fanout.deliver(entry('c2', 3));
    expect(order).toEqual(['c1:1', 'all c:c1:1', 'all c:c2:2']);
    expect(errors).toHaveLength(3);
  });
});
