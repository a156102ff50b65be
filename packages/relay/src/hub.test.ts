import type { LogEntry } from '@parley/protocol';
import { describe, expect, it } from 'vitest';
import { createMemoryEngine } from './engine/memory.js';
import type { Engine, FanoutItem } from './engine/types.js';
import { Hub, type HubMember } from './hub.js';

/** An engine that only records subscriptions, so a test can deliver items to them itself, late ones too. */
function fakeEngine() {
  const listeners = new Map<string, (item: FanoutItem) => void>();
  const engine = {
    subscribe: async (topic: string, listener: (item: FanoutItem) => void) => {
      listeners.set(topic, listener);
      return () => {}; // torn down later: items may still arrive, as over pub/sub
    },
  } as unknown as Engine;
  return { engine, listeners };
}

function member(conversationId: string, siteKey = 'site'): HubMember & { got: number[]; transient: string[] } {
  const got: number[] = [];
  const transient: string[] = [];
  return {
    conversationId,
    siteKey,
    got,
    transient,
    deliverEntry: (entry: LogEntry) => void got.push(entry.seq),
    deliverTransient: (text: string) => void transient.push(text),
    deliverDraft: () => {},
    resync: () => {},
  };
}

const entry = (conversationId: string, seq: number): FanoutItem => ({
  kind: 'entry',
  conversationId,
  entry: { kind: 'msg', seq, id: `m${seq}`, ts: seq, from: { role: 'bot' }, body: { type: 'text', text: 'hi' } },
});

describe('Hub', () => {
  it('hands a conversation entry to each of its members, one or several, and none to a member that left', async () => {
    const { engine, listeners } = fakeEngine();
    const hub = new Hub(engine);
    const a = member('c1');
    const b = member('c1');
    await hub.join(a);
    const deliver = listeners.get('c:c1')!;
    deliver(entry('c1', 1));
    await hub.join(b);
    deliver(entry('c1', 2));
    hub.leave(a);
    deliver(entry('c1', 3));
    hub.leave(b);
    deliver(entry('c1', 4));
    expect(a.got).toEqual([1, 2]);
    expect(b.got).toEqual([2, 3]);
  });

  it('gives a lone member that left nothing that reaches its old subscription late', async () => {
    const { engine, listeners } = fakeEngine();
    const hub = new Hub(engine);
    const a = member('c1');
    await hub.join(a);
    const deliver = listeners.get('c:c1')!;
    deliver(entry('c1', 1));
    hub.leave(a);
    deliver(entry('c1', 2));
    expect(a.got).toEqual([1]);
  });

  it('on an in-process engine, takes every item in one subscription and hands each to the members of its topic only', async () => {
    const engine = createMemoryEngine();
    await engine.start();
    const subscribe = engine.subscribe.bind(engine);
    let perTopic = 0;
    engine.subscribe = (topic, listener) => {
      perTopic++;
      return subscribe(topic, listener);
    };
    const hub = new Hub(engine);
    const open = async (id: string) => {
      await engine.openConversation({ id, siteKey: 'site', ownerKey: `v:${id}`, visitorId: id, context: {} });
    };
    const say = (conversationId: string, id: string) =>
      engine.append({ conversationId, entry: { kind: 'msg', id, from: { role: 'bot' }, body: { type: 'text', text: id } }, retention: { maxMessages: 100, maxAgeMs: 60_000 } });
    await open('c1');
    await open('c2');
    const a = member('c1');
    const b = member('c1');
    const c = member('c2');
    const other = member('c3', 'other-site');
    await hub.join(other);
    await hub.join(a);
    await say('c1', 'x1');
    await hub.join(b);
    await hub.join(c);
    await say('c1', 'x2');
    hub.leave(a);
    await say('c1', 'x3');
    await say('c2', 'y1');
    await engine.publish({ kind: 'site', siteKey: 'site', ts: 1, event: { type: 'availability', online: false } });
    hub.leave(b);
    await say('c1', 'x4');
    hub.close();
    await say('c2', 'y2');
    expect(a.got).toEqual([1, 2]);
    expect(b.got).toEqual([2, 3]);
    expect(c.got).toEqual([1]);
    expect(other.got).toEqual([]);
    // The site's members get its transient events; a member of another site does not.
    expect([a, b, c, other].map((m) => m.transient.length)).toEqual([0, 1, 1, 0]);
    expect(JSON.parse(b.transient[0]!)).toMatchObject({ t: 'event', event: { type: 'availability', online: false } });
    expect(perTopic).toBe(0);
    await engine.close();
  });
});
