import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PROTOCOL_VERSION, decode } from '@parley/protocol';
import { TestClient, startBackend, startRelay, testConfig } from './test-support/harness.js';

const TYPES = ['hello', 'send', 'typing', 'read', 'context', 'ping', 'welcome', 'msg', 'bogus'];

/** Frames from plausible to absurd: valid ones, near misses and noise. */
const frame = fc.oneof(
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  {
    weight: 3,
    arbitrary: fc
      .record(
        {
          t: fc.constantFrom(...TYPES),
          id: fc.oneof(fc.stringMatching(/^[\w-]{1,70}$/), fc.integer()),
          v: fc.oneof(fc.constant(PROTOCOL_VERSION), fc.integer()),
          siteKey: fc.constantFrom('pk_test', 'pk_other', ''),
          seq: fc.oneof(fc.nat(), fc.integer(), fc.double()),
          on: fc.oneof(fc.boolean(), fc.string()),
          ts: fc.oneof(fc.nat(), fc.string()),
          body: fc.oneof(
            fc.record({ type: fc.constant('text'), text: fc.string({ maxLength: 50 }) }),
            fc.record({ type: fc.constant('postback'), value: fc.string({ maxLength: 20 }), label: fc.string({ maxLength: 20 }) }),
            fc.record({ type: fc.constant('rating'), score: fc.integer({ min: -1, max: 7 }) }),
            fc.record({ type: fc.constantFrom('card', 'file', 'nope'), title: fc.string() }),
            fc.anything({ maxDepth: 2 }),
          ),
          page: fc.record({ url: fc.oneof(fc.webUrl(), fc.string()), title: fc.string({ maxLength: 30 }) }, { requiredKeys: [] }),
          attrs: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.object()), { maxKeys: 5 }),
        },
        { requiredKeys: ['t'] },
      )
      .map((o) => JSON.stringify(o)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')) },
);

let relay: Awaited<ReturnType<typeof startRelay>>;
let backend: Awaited<ReturnType<typeof startBackend>>;

beforeAll(async () => {
  backend = await startBackend();
  relay = await startRelay(testConfig(backend.url), {
    limits: { rateLimit: { perSecond: 1_000_000, burst: 1_000_000 }, maxInvalidFrames: 1_000_000 },
  });
});

afterAll(async () => {
  await relay.close();
  await backend.close();
});

describe('random frames against a live socket', () => {
  test('10,000 random frames never crash the relay; each bad one gets an error frame, each good one its answer', async () => {
    const frames = fc.sample(frame, { numRuns: 10_000, seed: 20_251_123 });
    const BATCH = 2_500;
    let acks = 0;
    for (let start = 0; start < frames.length; start += BATCH) {
      const batch = frames.slice(start, start + BATCH);
      const c = await TestClient.open(relay.wsUrl);
      await c.hello();
      let expectErrors = 0;
      let expectPongs = 0;
      const sendIds = new Set<string>();
      for (const raw of batch) {
        const r = decode(raw);
        if (!r.ok || r.frame.t === 'hello') expectErrors++;
        else if (r.frame.t === 'ping') expectPongs++;
        else if (r.frame.t === 'send') sendIds.add(r.frame.id);
        c.send(raw);
      }
      c.send({ t: 'ping', ts: 424242 });
      await c.take((f) => f.t === 'pong' && c.frames.filter((x) => x.t === 'pong').length === expectPongs + 1, 15_000);
      expect(c.closed).toBeUndefined();
      const errors = c.frames.filter((f) => f.t === 'error');
      expect(errors.filter((e) => !['BAD_JSON', 'BAD_FRAME'].includes((e as { code: string }).code))).toEqual([]);
      expect(errors).toHaveLength(expectErrors);
      const acked = new Set(c.frames.filter((f) => f.t === 'ack').map((f) => (f as { id: string }).id));
      expect(acked).toEqual(sendIds);
      acks += acked.size;
      c.close();
    }
    expect(frames.length).toBeGreaterThanOrEqual(10_000);
    expect(acks).toBeGreaterThan(0);
    // Still serving.
    const after = await TestClient.open(relay.wsUrl);
    await after.hello();
    after.send({ t: 'ping' });
    await after.take('pong');
    after.close();
    expect((await fetch(`${relay.base}/healthz`)).status).toBe(200);
  });
});
