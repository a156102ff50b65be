import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import type { WebhookEvent } from '@parley/protocol';
import { parseConfig } from '../config.js';
import { describeEngine } from '../test-support/engine-contract.js';
import { REDIS_URL, freePort, hasRedisServer as redisServerOnPath, newPrefix, reachable, sharedRedisAvailable } from '../test-support/redis.js';
import { createEngine } from './create.js';
import { RedisEngine, type RedisEngineOptions } from './redis.js';
import { conversationTopic, EngineUnavailableError, type ClaimedJob, type FanoutItem, type JobError, type NewEntry, type OpenRequest } from './types.js';

/**
 * The contract and the Redis-only behaviour, against a real server: `PARLEY_TEST_REDIS_URL` or the
 * local default. Each engine gets its own key prefix, and every key under it is deleted after each
 * test. With CI=true the tests must run: an unreachable server fails the file instead of skipping it.
 */

const noop = (): void => {};

const available = await sharedRedisAvailable('the Redis engine tests');

const engines: RedisEngine[] = [];
const prefixes = new Set<string>();
let admin: Redis | undefined;


/** An engine on a fresh prefix (or the given one), closed and cleaned up after the test. Not started. */
function engine(options: Partial<RedisEngineOptions> = {}): RedisEngine {
  const prefix = options.prefix ?? newPrefix();
  prefixes.add(prefix);
  const e = new RedisEngine({ url: REDIS_URL, ...options, prefix });
  engines.push(e);
  return e;
}

async function started(options: Partial<RedisEngineOptions> = {}): Promise<RedisEngine> {
  const e = engine(options);
  await e.start();
  return e;
}

/** Every key under `prefix` (SCAN, never KEYS). */
async function keysOf(r: Redis, prefix: string): Promise<string[]> {
  const pattern = prefix.replace(/[*?[\]\\]/g, '\\$&') + '*';
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

async function deleteKeys(r: Redis, prefix: string): Promise<void> {
  const keys = await keysOf(r, prefix);
  for (let i = 0; i < keys.length; i += 500) await r.unlink(...keys.slice(i, i + 500));
}

function adminConnection(): Redis {
  admin ??= new Redis(REDIS_URL);
  return admin;
}

afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  if (!available) return;
  const r = adminConnection();
  for (const prefix of prefixes) await deleteKeys(r, prefix);
  prefixes.clear();
});

afterAll(async () => {
  await admin?.quit();
});

const open = (id: string, ownerKey = `v:${id}`, siteKey = 'site1'): OpenRequest => ({ id, siteKey, ownerKey, visitorId: ownerKey.slice(2), context: { page: { title: 'Home' } } });
const text = (id: string): NewEntry => ({ kind: 'msg', id, from: { role: 'visitor' }, body: { type: 'text', text: `text of ${id}` } });
const keep = { maxMessages: 1000, maxAgeMs: 24 * 3600_000 };
const failure: JobError = { code: 'WEBHOOK_FAILED', message: 'The backend answered 500.', status: 500 };
const label = (job: { event: WebhookEvent }): string => ('message' in job.event.data ? job.event.data.message.id : job.event.type);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

if (!available) {
  describe.skip(`redis engine (no Redis at ${REDIS_URL})`, () => {
    test('needs a Redis server', noop);
  });
} else {
  describeEngine('redis', { make: async (clock) => engine({ now: clock.now }) });

  describe('redis engine: several instances on one prefix', () => {
    test('50 concurrent opens for one owner, split across two instances, give one conversation', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).openConversation({ ...open(`race${i}`, 'u:racer'), visitorId: 'racer' })),
      );
      const ids = new Set(results.map((r) => r.conversation.id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(await a.countConversations()).toBe(1);
      expect(await b.currentConversation('site1', 'u:racer')).toBe([...ids][0]);
    });

    test('concurrent first messages with start, on two instances, enqueue conversation.started once, first', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      await a.openConversation(open('c1'));
      const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
      const results = await Promise.all(
        ids.map((id, i) => (i % 2 ? a : b).append({ conversationId: 'c1', entry: text(id), retention: keep, webhook: 'message.created', start: true })),
      );
      expect((await a.getConversation('c1'))!.started).toBe(true);
      const inSeqOrder = results.map((r) => r!.entry!).sort((x, y) => x.seq - y.seq).map((entry) => entry.id);
      const delivered: string[] = [];
      for (let job = (await a.claimWebhooks(1, 60_000))[0]; job; job = (await b.claimWebhooks(1, 60_000))[0]) {
        delivered.push(label(job));
        expect(await a.completeWebhook(job.id, job.lease)).toBe(true);
      }
      expect(delivered).toEqual(['conversation.started', ...inSeqOrder]);
    });

    test('an append on instance A reaches a subscriber on instance B, once, and so do transient items', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      await a.openConversation(open('c1'));
      const items: FanoutItem[] = [];
      await b.subscribe(conversationTopic('c1'), (item) => items.push(item));
      const appended = await a.append({ conversationId: 'c1', entry: text('m1'), retention: keep });
      await a.append({ conversationId: 'c1', entry: text('m1'), retention: keep });
      await a.publish({ kind: 'transient', conversationId: 'c1', ts: 1, event: { type: 'typing', on: true } });
      await until(() => items.length === 2, 'the entry and the typing event');
      expect(items).toEqual([
        { kind: 'entry', conversationId: 'c1', entry: appended!.entry },
        { kind: 'transient', conversationId: 'c1', ts: 1, event: { type: 'typing', on: true } },
      ]);
    });

    test('concurrent appends on two instances, resent too, reach the subscribers of both instances once each: the reply and the published copy never both', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      const conversations = ['c1', 'c2', 'c3'];
      for (const id of conversations) await a.openConversation(open(id));
      const got = new Map<RedisEngine, FanoutItem[]>([
        [a, []],
        [b, []],
      ]);
      for (const [e, items] of got) for (const id of conversations) await e.subscribe(conversationTopic(id), (item) => items.push(item));
      const sends = Array.from({ length: 240 }, (_, i) => ({ on: i % 3 ? a : b, conversationId: conversations[i % 3]!, entry: text(`m${i}`) }));
      // Every message twice, the second time from the other instance while the first may still be in flight.
      await Promise.all(
        sends.flatMap(({ on, conversationId, entry }) => [
          on.append({ conversationId, entry, retention: keep }),
          (on === a ? b : a).append({ conversationId, entry, retention: keep }),
        ]),
      );
      for (const [e, items] of got) {
        await until(() => items.length >= sends.length, `every entry on instance ${e === a ? 'A' : 'B'}`);
        await sleep(100); // a second copy would arrive by now
        for (const id of conversations) {
          const seqs = items.flatMap((i) => (i.kind === 'entry' && i.conversationId === id ? [i.entry.seq] : [])).sort((x, y) => x - y);
          expect(seqs).toEqual(Array.from({ length: sends.length / 3 }, (_, k) => k + 1));
        }
        expect(items).toHaveLength(sends.length);
      }
    });

    test('an append publishes its entry only while another instance listens to the conversation; its own listeners get it from the reply', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      await a.openConversation(open('c1'));
      // A raw subscriber sees what is published on the channel; a transient item is always published.
      const raw = new Redis(REDIS_URL);
      const wire: string[] = [];
      raw.on('message', (_channel: string, message: string) => {
        const item = JSON.parse(message) as FanoutItem;
        wire.push(item.kind === 'entry' ? item.entry.id : item.kind);
      });
      await raw.subscribe(`${prefix}c:c1`);
      const marks = { n: 0 };
      const sentinelThrough = async (): Promise<void> => {
        const seen = ++marks.n;
        await a.publish({ kind: 'transient', conversationId: 'c1', ts: seen, event: { type: 'typing', on: true } });
        await until(() => wire.filter((w) => w === 'transient').length === seen, 'the sentinel on the wire');
      };
      try {
        const onA: string[] = [];
        const onB: string[] = [];
        const entryId = (item: FanoutItem): string => (item.kind === 'entry' ? item.entry.id : item.kind);
        await a.subscribe(conversationTopic('c1'), (item) => onA.push(entryId(item)));
        await a.append({ conversationId: 'c1', entry: text('m1'), retention: keep });
        await sentinelThrough();
        expect(wire).toEqual(['transient']);
        const stopB = await b.subscribe(conversationTopic('c1'), (item) => onB.push(entryId(item)));
        await a.append({ conversationId: 'c1', entry: text('m2'), retention: keep });
        await sentinelThrough();
        expect(wire).toEqual(['transient', 'm2', 'transient']);
        stopB();
        for (let i = 0; i < 100 && (await adminConnection().smembers(`${prefix}ls:c1`)).length > 1; i++) await sleep(20);
        expect(await adminConnection().smembers(`${prefix}ls:c1`)).toHaveLength(1);
        await a.append({ conversationId: 'c1', entry: text('m3'), retention: keep });
        await sentinelThrough();
        expect(wire).toEqual(['transient', 'm2', 'transient', 'transient']);
        expect(onA).toEqual(['m1', 'transient', 'm2', 'transient', 'm3', 'transient']);
        expect(onB).toEqual(['m2', 'transient']);
      } finally {
        raw.disconnect();
      }
    });

    test('a listening instance that stopped without a word (its liveness key lapsed) is dropped from the listeners by the next append', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      await a.openConversation(open('c1'));
      await b.subscribe(conversationTopic('c1'), noop);
      const r = adminConnection();
      const [bId] = await r.smembers(`${prefix}ls:c1`);
      expect(bId).toBeDefined();
      await r.del(`${prefix}instance:${bId}`);
      await a.append({ conversationId: 'c1', entry: text('m1'), retention: keep });
      expect(await r.smembers(`${prefix}ls:c1`)).toEqual([]);
    });

    test('an instance whose registrations were dropped (its liveness key lapsed) registers again at its next heartbeat, and its listeners read what was not published to them', async () => {
      const prefix = newPrefix();
      const a = await started({ prefix });
      const b = await started({ prefix, instanceTtlMs: 300 });
      await a.openConversation(open('c1'));
      const onB: FanoutItem[] = [];
      await b.subscribe(conversationTopic('c1'), (item) => onB.push(item));
      const r = adminConnection();
      const [bId] = await r.smembers(`${prefix}ls:c1`);
      // As after a stall of B longer than instanceTtlMs: its key lapsed, and A's next append drops B
      // (unless B's heartbeat comes first, which finds the key gone all the same).
      await r.del(`${prefix}instance:${bId}`);
      await a.append({ conversationId: 'c1', entry: text('m1'), retention: keep });
      await until(() => onB.some((item) => item.kind === 'resync'), 'a resync on B');
      expect(await r.smembers(`${prefix}ls:c1`)).toEqual([bId]);
      expect(await r.exists(`${prefix}instance:${bId}`)).toBe(1);
      const before = onB.length;
      await a.append({ conversationId: 'c1', entry: text('m2'), retention: keep });
      await until(() => onB.slice(before).some((item) => item.kind === 'entry'), 'm2 on B');
      expect(onB.slice(before).flatMap((item) => (item.kind === 'entry' ? [item.entry.id] : []))).toEqual(['m2']);
    });

    test('a streamed answer stepped on two instances: one stream, each delta once, drafts on B in step order, finished once', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      await a.openConversation(open('c1'));
      const items: FanoutItem[] = [];
      await b.subscribe(conversationTopic('c1'), (item) => items.push(item));
      const req = { conversationId: 'c1', id: 's1', from: { role: 'bot' as const, ai: true }, retention: keep, keepMs: 60_000 };
      const starts = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).startStream(req)));
      expect(starts.filter((r) => r?.status === 'open' && r.created)).toHaveLength(1);
      let offset = 0;
      for (const word of ['One ', 'two ', 'three.']) {
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).appendStream({ ...req, offset, text: word })));
        expect(results.filter((r) => r?.status === 'ok' && r.appended)).toHaveLength(1);
        offset += word.length;
      }
      const ends = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).endStream({ conversationId: 'c1', id: 's1', retention: keep })));
      expect(ends.filter((r) => r?.status === 'ended' && !r.duplicate)).toHaveLength(1);
      await until(() => items.some((i) => i.kind === 'entry'), 'the finished entry on B');
      expect(items.map((i) => (i.kind === 'draft' ? `${i.draft.offset}:${i.draft.text}` : i.kind === 'entry' && i.entry.kind === 'msg' ? i.entry.body.type === 'text' && i.entry.body.text : i.kind))).toEqual([
        '0:',
        '0:One ',
        '4:two ',
        '8:three.',
        'One two three.',
      ]);
    });

    test("a job leased by A whose lease expires is claimed by B, and A's stale token changes nothing (server clock)", async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      await a.openConversation(open('c1'));
      await a.append({ conversationId: 'c1', entry: text('m1'), retention: keep, webhook: 'message.created' });
      await a.append({ conversationId: 'c1', entry: text('m2'), retention: keep, webhook: 'message.created' });
      const [held] = await a.claimWebhooks(10, 150);
      expect(held).toMatchObject({ attempts: 1 });
      expect(await b.claimWebhooks(10, 150)).toEqual([]);
      await sleep(200);
      const [taken] = await b.claimWebhooks(10, 5000);
      expect(taken).toMatchObject({ id: held!.id, attempts: 2 });
      expect(await a.completeWebhook(held!.id, held!.lease)).toBe(false);
      expect(await a.retryWebhook(held!.id, held!.lease, 0, failure)).toBe(false);
      expect(await a.deadLetter(held!.id, held!.lease, failure)).toBe(false);
      // m2 is still held back behind B's lease.
      expect(await a.claimWebhooks(10, 5000)).toEqual([]);
      expect(await b.completeWebhook(taken!.id, taken!.lease)).toBe(true);
      const [next] = await a.claimWebhooks(10, 5000);
      expect(label(next!)).toBe('m2');
      expect(await a.listDeadLetters('site1')).toEqual([]);
    });

    test("two instances delivering with retries keep each conversation's events in order, one in flight at a time", async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      const conversations = ['c1', 'c2', 'c3', 'c4'];
      const enqueued = new Map<string, string[]>(conversations.map((c) => [c, []]));
      for (const c of conversations) await a.openConversation(open(c));
      for (let i = 0; i < 8; i++) {
        for (const c of conversations) {
          await (i % 2 ? a : b).append({ conversationId: c, entry: text(`${c}m${i}`), retention: keep, webhook: 'message.created' });
          enqueued.get(c)!.push(`${c}m${i}`);
        }
      }
      const delivered = new Map<string, string[]>(conversations.map((c) => [c, []]));
      const inFlight = new Set<string>();
      let settled = 0;
      let retried = 0;
      let turn = 0;
      const total = conversations.length * 8;
      const worker = async (e: RedisEngine): Promise<void> => {
        const deadline = Date.now() + 15_000;
        while (settled < total && Date.now() < deadline) {
          const jobs: ClaimedJob[] = await e.claimWebhooks(3, 10_000);
          if (jobs.length === 0) {
            await sleep(2);
            continue;
          }
          for (const job of jobs) {
            expect(inFlight.has(job.conversationId)).toBe(false);
            inFlight.add(job.conversationId);
          }
          await Promise.all(
            jobs.map(async (job) => {
              await sleep(Math.random() * 3);
              inFlight.delete(job.conversationId);
              // Every third job fails its first attempt and is retried a few ms later.
              if (job.attempts === 1 && ++turn % 3 === 0) {
                retried++;
                expect(await e.retryWebhook(job.id, job.lease, 5, failure)).toBe(true);
                return;
              }
              expect(await e.completeWebhook(job.id, job.lease)).toBe(true);
              delivered.get(job.conversationId)!.push(label(job));
              settled++;
            }),
          );
        }
      };
      await Promise.all([worker(a), worker(b)]);
      expect(retried).toBeGreaterThan(3);
      expect(delivered).toEqual(enqueued);
      expect(await a.nextWebhookAt()).toBeNull();
    });

    test('by default entries, jobs and leases are stamped by the Redis server clock, and now() follows it', async () => {
      const e = await started();
      const time = async (): Promise<number> => {
        const [s, us] = await adminConnection().time();
        return Number(s) * 1000 + Math.floor(Number(us) / 1000);
      };
      await e.openConversation(open('c1'));
      const before = await time();
      const appended = await e.append({ conversationId: 'c1', entry: text('m1'), retention: keep, webhook: 'message.created' });
      const [job] = await e.claimWebhooks(1, 60_000);
      const after = await time();
      expect(appended!.ts).toBeGreaterThanOrEqual(before);
      expect(appended!.ts).toBeLessThanOrEqual(after);
      expect(job!.enqueuedAt).toBe(appended!.ts);
      expect(job!.leaseUntil - job!.lastAttemptAt!).toBe(60_000);
      expect(Math.abs(e.now() - after)).toBeLessThan(1000);
    });
  });

  describe('redis engine: connection slots across instances', () => {
    const children: ChildProcess[] = [];
    afterEach(() => {
      for (const child of children.splice(0)) child.kill('SIGKILL');
    });

    test('two instances on one prefix share the cap, and a release on either frees a slot for both', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      expect([await a.acquireSlot('conn:ip', 3), await b.acquireSlot('conn:ip', 3), await a.acquireSlot('conn:ip', 3)]).toEqual([true, true, true]);
      expect([await a.acquireSlot('conn:ip', 3), await b.acquireSlot('conn:ip', 3)]).toEqual([false, false]);
      await b.releaseSlot('conn:ip');
      expect([await a.acquireSlot('conn:ip', 3), await b.acquireSlot('conn:ip', 3)]).toEqual([true, false]);
      // 40 concurrent acquires split across both instances on cap 10 (3 held): exactly 7 more.
      const more = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).acquireSlot('conn:ip', 10)));
      expect(more.filter(Boolean)).toHaveLength(7);
    });

    test('an instance that is closed without releasing frees its slots for the others at once', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      expect([await a.acquireSlot('conn:ip', 2), await a.acquireSlot('conn:ip', 2)]).toEqual([true, true]);
      expect(await b.acquireSlot('conn:ip', 2)).toBe(false);
      await a.close();
      expect([await b.acquireSlot('conn:ip', 2), await b.acquireSlot('conn:ip', 2), await b.acquireSlot('conn:ip', 2)]).toEqual([true, true, false]);
      expect(await adminConnection().hkeys(`${prefix}slots:conn:ip`)).toHaveLength(1);
    });

    test('the slots of an instance whose liveness key is gone (a dead instance) are dropped by the next acquire', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      expect([await a.acquireSlot('conn:ip', 2), await a.acquireSlot('conn:ip', 2), await b.acquireSlot('conn:ip', 2)]).toEqual([true, true, false]);
      const r = adminConnection();
      const [deadId] = await r.hkeys(`${prefix}slots:conn:ip`);
      // What the TTL does to an instance that was killed: its liveness key lapses.
      expect(await r.del(`${prefix}instance:${deadId}`)).toBe(1);
      expect([await b.acquireSlot('conn:ip', 2), await b.acquireSlot('conn:ip', 2), await b.acquireSlot('conn:ip', 2)]).toEqual([true, true, false]);
      expect(await r.hkeys(`${prefix}slots:conn:ip`)).not.toContain(deadId);
    });

    test('a live instance keeps its slots past the TTL by its heartbeat; a slot key nobody holds vanishes', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix, instanceTtlMs: 300 }), started({ prefix, instanceTtlMs: 300 })]);
      expect(await a.acquireSlot('conn:held', 1)).toBe(true);
      expect(await a.acquireSlot('conn:idle', 1)).toBe(true);
      await a.releaseSlot('conn:idle');
      const pttl = await adminConnection().pttl(`${prefix}slots:conn:held`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(300);
      await sleep(1000);
      expect(await b.acquireSlot('conn:held', 1)).toBe(false);
      expect(await adminConnection().exists(`${prefix}slots:conn:idle`)).toBe(0);
    });

    test('the slots of an instance killed with SIGKILL are freed once its liveness lapses', async () => {
      const built = fileURLToPath(new URL('../../dist/engine/redis.js', import.meta.url));
      if (!existsSync(built)) throw new Error('packages/relay/dist is missing: run `npx tsc -b` (npm test does) first.');
      const prefix = newPrefix();
      prefixes.add(prefix);
      const ttl = 600;
      const script = `
        import { RedisEngine } from ${JSON.stringify(built)};
        const e = new RedisEngine({ url: ${JSON.stringify(REDIS_URL)}, prefix: ${JSON.stringify(prefix)}, instanceTtlMs: ${ttl} });
        await e.start();
        const got = [await e.acquireSlot('conn:ip', 3), await e.acquireSlot('conn:ip', 3)];
        process.stdout.write(JSON.stringify(got) + '\\n');
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const line = await new Promise<string>((done, fail) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) done(out.trim());
        });
        child.on('exit', () => fail(new Error(`the child exited early: ${stderr}`)));
      });
      expect(JSON.parse(line)).toEqual([true, true]);
      const b = await started({ prefix, instanceTtlMs: ttl });
      // The child lives: its heartbeat keeps its two slots counted well past the TTL.
      await sleep(ttl * 2);
      expect([await b.acquireSlot('conn:ip', 3), await b.acquireSlot('conn:ip', 3)]).toEqual([true, false]);
      const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      const killedAt = Date.now();
      expect(await b.acquireSlot('conn:ip', 3)).toBe(false);
      for (let freed = false; !freed; ) {
        if (Date.now() - killedAt > ttl + 2000) throw new Error('the dead instance still holds its slots');
        await sleep(50);
        freed = await b.acquireSlot('conn:ip', 3);
      }
      expect([await b.acquireSlot('conn:ip', 3), await b.acquireSlot('conn:ip', 3)]).toEqual([true, false]);
    });
  });

  describe('redis engine: retention and bounds', () => {
    test('a read leaves out entries older than maxAge even before an append or a sweep drops them', async () => {
      let now = 1_000_000;
      const e = await started({ now: () => now });
      await e.openConversation(open('c1'));
      const minute = { maxMessages: 100, maxAgeMs: 60_000 };
      await e.append({ conversationId: 'c1', entry: text('m1'), retention: minute });
      now += 30_000;
      await e.append({ conversationId: 'c1', entry: text('m2'), retention: minute });
      now += 40_000;
      expect(await e.read('c1', 0, 10)).toMatchObject({ lastSeq: 2, hasMore: false, entries: [{ id: 'm2' }] });
      expect(await e.read('c1', 0, 0)).toMatchObject({ lastSeq: 2, hasMore: true, entries: [] });
      now += 30_000;
      expect(await e.read('c1', 0, 10)).toEqual({ lastSeq: 2, hasMore: false, entries: [] });
    });

    test('an append drops the entries past maxAge from the stored log, whatever appends came between, and after maxAge shrinks; the sweep time follows', async () => {
      let now = 1_000_000;
      const e = await started({ now: () => now });
      const r = adminConnection();
      const prefix = e.prefix;
      await e.openConversation(open('c1'));
      const add = (id: string, maxAgeMs = 60_000) => e.append({ conversationId: 'c1', entry: text(id), retention: { maxMessages: 100, maxAgeMs } });
      const stored = async () => (await r.xrange(`${prefix}log:c1`, '-', '+')).map(([, fields]) => (JSON.parse(fields[1]!) as { id: string }).id);
      const sweepAt = async () => Number(await r.zscore(`${prefix}sweep`, 'c1'));
      await add('m1');
      expect(await sweepAt()).toBe(1_060_000);
      for (let i = 2; i <= 4; i++) {
        now += 10_000;
        await add(`m${i}`);
      }
      expect(await stored()).toEqual(['m1', 'm2', 'm3', 'm4']);
      expect(await sweepAt()).toBe(1_060_000);
      now = 1_065_000; // m1 (1 000 000) is past the minute; m2 (1 010 000) is not
      await add('m5');
      expect(await stored()).toEqual(['m2', 'm3', 'm4', 'm5']);
      expect(await sweepAt()).toBe(1_070_000);
      now += 1000;
      await add('m6');
      expect(await sweepAt()).toBe(1_070_000);
      // A shorter maxAge takes effect on the next append.
      now += 1000; // 1 067 000: m2 to m4 are older than 30 s
      await add('m7', 30_000);
      expect(await stored()).toEqual(['m5', 'm6', 'm7']);
      expect(await sweepAt()).toBe(1_065_000 + 30_000);
    });

    test('the sweep drops expired entries, then forgets the idle conversation and every key of it', async () => {
      let now = 1_000_000;
      const e = await started({ now: () => now, emptyConversationTtlMs: 5000 });
      const minute = { maxMessages: 100, maxAgeMs: 60_000 };
      await e.openConversation(open('c1', 'u:ann'));
      await e.openConversation(open('never', 'u:bob'));
      await e.append({ conversationId: 'c1', entry: text('m1'), retention: minute, webhook: 'message.created', start: true });
      // A bot answer with feedback on it, and an answer still being written: their keys go with the conversation.
      await e.append({ conversationId: 'c1', entry: { kind: 'msg', id: 'b1', from: { role: 'bot' }, body: { type: 'text', text: 'Hi' } }, retention: minute });
      expect(await e.enqueueFeedback({ conversationId: 'c1', id: 'f1', messageId: 'b1', value: 'up', retention: minute })).toBe('queued');
      await e.startStream({ conversationId: 'c1', id: 's1', from: { role: 'bot', ai: true }, retention: minute, keepMs: 3_600_000 });
      now += 30_000;
      await e.append({ conversationId: 'c1', entry: text('m2'), retention: minute });
      expect(await e.sweep()).toBe(1); // only `never` was due (its TTL passed)
      expect(await e.getConversation('never')).toBeNull();
      expect(await e.currentConversation('site1', 'u:bob')).toBeNull();
      now += 40_000;
      await e.sweep();
      expect(await e.read('c1', 0, 10)).toMatchObject({ lastSeq: 3, entries: [{ id: 'm2' }] });
      now += 30_001;
      await e.sweep();
      expect(await e.getConversation('c1')).toBeNull();
      expect(await e.currentConversation('site1', 'u:ann')).toBeNull();
      expect(await e.countConversations()).toBe(0);
      expect(await e.listConversations('site1', { limit: 10 })).toEqual({ conversations: [], nextCursor: null });
      // What remains: the queued jobs (they outlive their conversation; the first is claimable) and the counters.
      const left = (await keysOf(adminConnection(), e.prefix)).map((k) => k.slice(e.prefix.length)).sort();
      expect(left.filter((k) => !k.startsWith('job:'))).toEqual(['jobs:due', 'jobs:dueMin', 'jobseq', 'nconv', 'q:c1']);
      expect(left.filter((k) => k.startsWith('job:'))).toHaveLength(3);
    });

    test("a stream's keys expire keepMs after its last step; readers drop what expired from the indexes", async () => {
      const e = await started();
      const r = adminConnection();
      await e.openConversation(open('c1'));
      const req = { conversationId: 'c1', id: 's1', from: { role: 'bot' as const, ai: true }, retention: keep, keepMs: 20_000 };
      await e.startStream(req);
      await e.startStream({ ...req, id: 's2' });
      await e.appendStream({ ...req, offset: 0, text: 'Hello', keepMs: 50_000 });
      for (const key of ['st:c1:s1', 'sts:c1']) {
        const ttl = await r.pttl(e.prefix + key);
        expect(ttl, key).toBeGreaterThan(20_000);
        expect(ttl, key).toBeLessThanOrEqual(50_000);
      }
      const ttl2 = await r.pttl(e.prefix + 'st:c1:s2');
      expect(ttl2).toBeGreaterThan(0);
      expect(ttl2).toBeLessThanOrEqual(20_000);
      // s2 expires (as if no relay was left to close it).
      await r.del(e.prefix + 'st:c1:s2');
      expect((await e.openStreams('c1')).map((s) => s.id)).toEqual(['s1']);
      expect(await r.smembers(e.prefix + 'sts:c1')).toEqual(['s1']);
      await r.del(e.prefix + 'st:c1:s1');
      expect(await e.stalledStreams(0, 10)).toEqual([]);
      expect(await r.exists(e.prefix + 'stalls')).toBe(0);
      expect(await e.appendStream({ ...req, offset: 5, text: '!' })).toEqual({ status: 'not-found' });
    });

    test('every key it writes is one of the kinds listed at the top of redis.ts', async () => {
      const e = await started({ maxDeadLetters: 2 });
      await e.openConversation(open('c1', 'u:ann'));
      await e.mergeContext('c1', { attrs: { plan: 'gold' } }, 10_000);
      for (const id of ['m1', 'm2', 'm3']) await e.append({ conversationId: 'c1', entry: text(id), retention: keep, webhook: 'message.created', start: true });
      const [first] = await e.claimWebhooks(1, 60_000);
      await e.deadLetter(first!.id, first!.lease, failure);
      await e.claimWebhooks(1, 60_000);
      await e.setOnline('site1', false);
      await e.takeToken('ip:1.2.3.4', { perSecond: 1, burst: 2 });
      await e.acquireSlot('conn:1.2.3.4', 5);
      await e.append({ conversationId: 'c1', entry: { kind: 'msg', id: 'b1', from: { role: 'bot' }, body: { type: 'text', text: 'Hi' } }, retention: keep });
      await e.enqueueFeedback({ conversationId: 'c1', id: 'f1', messageId: 'b1', value: 'up', retention: keep });
      await e.startStream({ conversationId: 'c1', id: 's1', from: { role: 'bot', ai: true }, retention: keep, keepMs: 60_000 });
      const kinds = [
        /^conv:c1$/,
        /^log:c1$/,
        /^ids:c1$/,
        /^idq:c1$/,
        /^owner:site1:u:ann$/,
        /^own:site1:u:ann$/,
        /^site:site1$/,
        /^sweep$/,
        /^nconv$/,
        /^q:c1$/,
        /^job:evt_[\w-]+$/,
        /^jobs:(waiting|due|dueMin)$/,
        /^jobseq$/,
        /^dead:site1$/,
        /^online$/,
        /^tb:ip:1\.2\.3\.4$/,
        /^slots:conn:1\.2\.3\.4$/,
        /^instance:[\w-]+$/,
        /^st:c1:s1$/,
        /^sts:c1$/,
        /^stalls$/,
        /^fb:c1$/,
      ];
      const keys = (await keysOf(adminConnection(), e.prefix)).map((k) => k.slice(e.prefix.length));
      expect(keys.filter((k) => !kinds.some((kind) => kind.test(k)))).toEqual([]);
      expect(keys.length).toBeGreaterThanOrEqual(20);
    });

    test('dead letters are capped per site at maxDeadLetters, newest kept', async () => {
      const e = await started({ maxDeadLetters: 3 });
      await e.openConversation(open('c1'));
      for (let i = 1; i <= 5; i++) await e.append({ conversationId: 'c1', entry: text(`m${i}`), retention: keep, webhook: 'message.created' });
      for (let i = 1; i <= 5; i++) {
        const [job] = await e.claimWebhooks(1, 60_000);
        expect(await e.deadLetter(job!.id, job!.lease, failure)).toBe(true);
      }
      expect((await e.listDeadLetters('site1')).map((d) => label(d))).toEqual(['m3', 'm4', 'm5']);
    });

    test('a token bucket is shared by instances and its key expires once it would be full again', async () => {
      const prefix = newPrefix();
      const [a, b] = await Promise.all([started({ prefix }), started({ prefix })]);
      const rate = { perSecond: 10, burst: 2 };
      expect([await a.takeToken('k', rate), await b.takeToken('k', rate), await a.takeToken('k', rate)]).toEqual([true, true, false]);
      const ttl = await adminConnection().pttl(`${prefix}tb:k`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(201);
    });
  });

  describe('redis engine: connections', () => {
    test('operations before start and after close fail with EngineUnavailableError, at once', async () => {
      const e = engine();
      expect(e.isReady()).toBe(false);
      await expect(e.getConversation('c1')).rejects.toBeInstanceOf(EngineUnavailableError);
      await e.start();
      expect(e.isReady()).toBe(true);
      await e.close();
      expect(e.isReady()).toBe(false);
      await expect(e.append({ conversationId: 'c1', entry: text('m1'), retention: keep })).rejects.toBeInstanceOf(EngineUnavailableError);
      await expect(e.subscribe('c:c1', noop)).rejects.toBeInstanceOf(EngineUnavailableError);
    });

    test('start fails with a clear error when nothing answers at the url', async () => {
      const port = await freePort();
      const e = engine({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500 });
      await expect(e.start()).rejects.toThrow(`The Redis engine cannot use redis://127.0.0.1:${port}`);
      expect(e.isReady()).toBe(false);
    });

    test('a listener that throws goes to onListenerError; the others still get the item', async () => {
      const errors: unknown[] = [];
      const e = await started({ onListenerError: (error) => errors.push(error) });
      await e.openConversation(open('c1'));
      const items: FanoutItem[] = [];
      await e.subscribe('c:c1', () => {
        throw new Error('listener bug');
      });
      await e.subscribe('c:c1', (item) => items.push(item));
      await e.append({ conversationId: 'c1', entry: text('m1'), retention: keep });
      await until(() => items.length === 1, 'the entry');
      expect(errors).toMatchObject([{ message: 'listener bug' }]);
    });

    test('the config names a redis engine, and createEngine builds it on the server clock', async () => {
      const config = parseConfig({
        tokenSecret: 'x'.repeat(32),
        engine: { type: 'redis' },
        sites: [
          {
            siteKey: 'site1',
            name: 'Shop',
            allowedOrigins: ['*'],
            webhookUrl: 'https://shop.example/hook',
            webhookSecret: 'whsec_' + Buffer.alloc(16, 1).toString('base64'),
            apiSecret: 'a'.repeat(16),
          },
        ],
      });
      expect(config.engine).toEqual({ type: 'redis', url: 'redis://127.0.0.1:6379' });
      expect(() => parseConfig({ ...config, engine: { type: 'redis', url: 'http://x' } })).toThrow('engine.url');
      const e = createEngine({ type: 'redis', url: REDIS_URL, prefix: newPrefix() }, Date.now);
      expect(e).toBeInstanceOf(RedisEngine);
      engines.push(e as RedisEngine);
      prefixes.add((e as RedisEngine).prefix);
      await e.start();
      await e.openConversation(open('c1'));
      const [s] = await adminConnection().time();
      expect(Math.abs((await e.getConversation('c1'))!.createdAt - Number(s) * 1000)).toBeLessThan(2000);
    });
  });

  const hasRedisServer = redisServerOnPath('the Redis outage test');

  describe.skipIf(!hasRedisServer)('redis engine: a Redis outage (own redis-server, AOF, killed and restarted)', () => {
    const servers: ChildProcess[] = [];
    const dirs: string[] = [];

    afterEach(() => {
      for (const server of servers.splice(0)) server.kill('SIGKILL');
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    });

    async function serve(port: number, dir: string): Promise<ChildProcess> {
      const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], {
        stdio: 'ignore',
      });
      servers.push(server);
      const deadline = Date.now() + 10_000;
      while (!(await reachable(`redis://127.0.0.1:${port}`))) {
        if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
        await sleep(20);
      }
      return server;
    }

    test('fails fast while Redis is down, reconnects by itself, loses nothing acked, and tells subscribers to resync', async () => {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
      dirs.push(dir);
      let server = await serve(port, dir);
      const errors: unknown[] = [];
      const e = engine({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 1000, commandTimeoutMs: 1000, onError: (error) => errors.push(error) });
      await e.start();
      await e.openConversation(open('c1'));
      const items: FanoutItem[] = [];
      await e.subscribe(conversationTopic('c1'), (item) => items.push(item));
      const acked = [];
      for (let i = 1; i <= 20; i++) {
        acked.push((await e.append({ conversationId: 'c1', entry: text(`m${i}`), retention: keep, webhook: 'message.created', start: true }))!.entry);
      }

      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
      await until(() => !e.isReady(), 'isReady() to turn false', 2000);
      const t0 = Date.now();
      await expect(e.append({ conversationId: 'c1', entry: text('m21'), retention: keep })).rejects.toBeInstanceOf(EngineUnavailableError);
      await expect(e.read('c1', 0, 100)).rejects.toMatchObject({ name: 'EngineUnavailableError', code: 'NOT_READY' });
      await expect(e.claimWebhooks(10, 1000)).rejects.toBeInstanceOf(EngineUnavailableError);
      await expect(e.subscribe(conversationTopic('c2'), noop)).rejects.toBeInstanceOf(EngineUnavailableError);
      expect(Date.now() - t0).toBeLessThan(2000);
      // Down for a while: reconnect attempts fail (reported to onError) and the engine stays unready.
      await sleep(300);
      expect(e.isReady()).toBe(false);
      expect(errors.length).toBeGreaterThan(0);

      server = await serve(port, dir);
      await until(() => e.isReady(), 'the engine to reconnect by itself', 10_000);
      await until(() => items.some((item) => item.kind === 'resync'), 'a resync', 5000);

      expect(await e.read('c1', 0, 100)).toEqual({ entries: acked, lastSeq: 20, hasMore: false });
      const jobs = await e.claimWebhooks(10, 60_000);
      expect(jobs.map(label)).toEqual(['conversation.started']);
      // The subscription is live again: a new append reaches the subscriber.
      const next = await e.append({ conversationId: 'c1', entry: text('m21'), retention: keep });
      expect(next).toMatchObject({ duplicate: false, seq: 21 });
      await until(() => items.some((item) => item.kind === 'entry' && item.entry.seq === 21), 'entry 21 over pub/sub');
      await e.close();
    });

    test('while Redis is down an acquire fails with EngineUnavailableError and a release is kept, then given back after the reconnect', { timeout: 20_000 }, async () => {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
      dirs.push(dir);
      let server = await serve(port, dir);
      const url = `redis://127.0.0.1:${port}`;
      // b holds a slot in the same key and its heartbeat keeps the key alive, and neither liveness
      // lapses during the test: only a's release can free a's slot.
      const options = { url, prefix: newPrefix(), connectTimeoutMs: 1000, commandTimeoutMs: 1000, instanceTtlMs: 9000 };
      const [a, b] = [engine(options), engine(options)];
      await Promise.all([a.start(), b.start()]);
      const slots = `${options.prefix}slots:conn:ip`;
      const own = new Redis(url);
      own.on('error', noop);
      expect(await a.acquireSlot('conn:ip', 2)).toBe(true);
      const [aId] = await own.hkeys(slots);
      own.disconnect();
      expect([await b.acquireSlot('conn:ip', 2), await b.acquireSlot('conn:ip', 2)]).toEqual([true, false]);

      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
      await until(() => !a.isReady(), 'isReady() to turn false', 2000);
      await expect(a.acquireSlot('conn:ip', 2)).rejects.toBeInstanceOf(EngineUnavailableError);
      await a.releaseSlot('conn:ip');

      server = await serve(port, dir);
      await until(() => a.isReady() && b.isReady(), 'the engines to reconnect', 10_000);
      const deadline = Date.now() + 8000;
      while (!(await b.acquireSlot('conn:ip', 2).catch(() => false))) {
        if (Date.now() > deadline) throw new Error("a's release was never given back");
        await sleep(50);
      }
      expect(await b.acquireSlot('conn:ip', 2)).toBe(false);
      // a is alive (its liveness never lapsed): its slot went back by its kept release.
      const after = new Redis(url);
      after.on('error', noop);
      try {
        expect(await after.exists(`${options.prefix}instance:${aId}`)).toBe(1);
        expect(await after.hkeys(slots)).not.toContain(aId);
      } finally {
        after.disconnect();
      }
    });
  });
}
