import { describe, expect, test } from 'vitest';
import { encode, type HistoryResponse, type LogEntry } from '@parley/protocol';
import { entryFrame } from './hub.js';
import { OrderedDelivery, REPLAY_PAGE } from './ordered-delivery.js';

const entry = (seq: number): LogEntry => ({ kind: 'msg', seq, id: `m${seq}`, ts: seq, from: { role: 'bot' }, body: { type: 'text', text: `#${seq}` } });

/** A log of `n` entries, a delivery over it, and the seqs it sent, in order. */
function setup(n: number, after = 0) {
  const log = Array.from({ length: n }, (_, i) => entry(i + 1));
  const sent: number[] = [];
  const reads: Array<[number, number]> = [];
  let gate: Promise<void> = Promise.resolve();
  const read = async (afterSeq: number, limit: number): Promise<HistoryResponse> => {
    reads.push([afterSeq, limit]);
    await gate;
    const kept = log.filter((e) => e.seq > afterSeq);
    return { entries: kept.slice(0, limit), lastSeq: log.length ? log[log.length - 1]!.seq : 0, hasMore: kept.length > limit };
  };
  const delivery = new OrderedDelivery(
    {
      read,
      send: (text) => sent.push((JSON.parse(text) as { seq: number }).seq),
      isOpen: () => true,
      onError: (err) => {
        throw err;
      },
    },
    after,
  );
  const append = (seq = log.length + 1) => {
    const e = entry(seq);
    log.push(e);
    return e;
  };
  const live = (e: LogEntry) => delivery.live(e, encode(entryFrame(e)));
  return {
    log,
    sent,
    reads,
    delivery,
    append,
    live,
    /** Hold reads until the returned function is called. */
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return release;
    },
    first: (afterSeq = after) => read(afterSeq, REPLAY_PAGE),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('ordered delivery', () => {
  test('replays a log of more than 200 entries page by page, each once, in order', async () => {
    const s = setup(450, 10);
    await s.delivery.start(await s.first());
    expect(s.sent).toEqual(Array.from({ length: 440 }, (_, i) => i + 11));
    expect(s.reads.map(([after]) => after)).toEqual([10, 210, 410]);
  });

  test('live entries that arrive during the replay wait for it, and are not sent twice', async () => {
    const s = setup(250);
    const first = await s.first();
    const release = s.hold();
    const started = s.delivery.start(first);
    // Appended while the second page is being read; published live too.
    s.live(s.append(251));
    s.live(s.append(252));
    release();
    await started;
    expect(s.sent).toEqual(Array.from({ length: 252 }, (_, i) => i + 1));
  });

  test('a live entry past a gap waits while the gap is read from the log', async () => {
    const s = setup(3);
    await s.delivery.start(await s.first());
    // 4 and 5 are committed, but 5 is published first (two relays, or pub/sub reordering).
    s.append(4);
    const five = s.append(5);
    s.live(five);
    await settle();
    await settle();
    expect(s.sent).toEqual([1, 2, 3, 4, 5]);
    // 4's own publication arrives late and is dropped.
    s.live(s.log[3]!);
    expect(s.sent).toEqual([1, 2, 3, 4, 5]);
  });

  test('entries arriving out of order with no gap in the log go out in seq order', async () => {
    const s = setup(0);
    await s.delivery.start(await s.first());
    const release = s.hold();
    const [a, b, c] = [s.append(1), s.append(2), s.append(3)];
    s.live(c);
    s.live(b);
    s.live(a);
    release();
    await settle();
    await settle();
    expect(s.sent).toEqual([1, 2, 3]);
  });

  test('after a resync, entries whose publication was lost are read from the log', async () => {
    const s = setup(2);
    await s.delivery.start(await s.first());
    // Committed while the fan-out was down: never published.
    s.append(3);
    s.append(4);
    s.delivery.resync();
    await settle();
    await settle();
    expect(s.sent).toEqual([1, 2, 3, 4]);
  });

  test('a client that claims a seq past the end of the log is rewound to it', async () => {
    const s = setup(2, 9);
    await s.delivery.start(await s.first());
    expect(s.sent).toEqual([]);
    s.live(s.append(3));
    expect(s.sent).toEqual([3]);
  });
});
