import fc from 'fast-check';
import { signWebhook, type WebhookEvent } from '@parley/protocol';
import { describe, expect, test } from 'vitest';
import { BACKEND_ERRORS } from './errors.js';
import { verifyWebhook, type VerifyWebhookResult } from './verify-webhook.js';

const secret = 'whsec_' + Buffer.from('parley-fuzz-verify-secret-0123456').toString('base64');
const otherSecret = 'whsec_' + Buffer.from('parley-fuzz-other-secret-98765432').toString('base64');
const now = 1_800_000_000_000;
const ts = Math.floor(now / 1000);
const WEBHOOK_CODES = Object.keys(BACKEND_ERRORS).filter((c) => c.startsWith('WEBHOOK_'));

/** Signed events whose message text, ids and time vary. */
const event = fc
  .record({
    id: fc.stringMatching(/^evt_[A-Za-z0-9_-]{1,40}$/),
    text: fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }),
    seq: fc.integer({ min: 1, max: 1_000_000 }),
  })
  .map(
    ({ id, text, seq }): WebhookEvent => ({
      id,
      type: 'message.created',
      createdAt: now,
      siteKey: 'pk_fuzz',
      conversationId: 'c_fuzz',
      visitor: { id: 'v_fuzz' },
      data: { message: { seq, id: `m_${seq}`, ts: now, from: { role: 'visitor' }, body: { type: 'text', text } } },
    }),
  );

async function signed(body: string, id: string, timestamp = ts, key = secret) {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': await signWebhook(key, id, timestamp, body) };
}

/** A refusal with a registered code and the registry's status for it. */
function expectRefused(result: VerifyWebhookResult, code?: string): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(WEBHOOK_CODES).toContain(result.code);
  expect(result.status).toBe(BACKEND_ERRORS[result.code].status);
  expect(typeof result.message).toBe('string');
  if (code) expect(result.code).toBe(code);
}

/** One edit of a string: insert, delete or replace one character, or append whitespace. */
const edit = (s: string) =>
  fc.oneof(
    fc.record({ at: fc.nat({ max: s.length }), c: fc.string({ minLength: 1, maxLength: 3 }) }).map(({ at, c }) => s.slice(0, at) + c + s.slice(at)),
    fc.nat({ max: Math.max(0, s.length - 1) }).map((at) => s.slice(0, at) + s.slice(at + 1)),
    fc.record({ at: fc.nat({ max: Math.max(0, s.length - 1) }), c: fc.string({ minLength: 1, maxLength: 1 }) }).map(({ at, c }) => s.slice(0, at) + c + s.slice(at + 1)),
    fc.constantFrom(' ', '\n', '\r\n', '\u0000').map((w) => s + w),
  );

const RUNS = { numRuns: 300, seed: 14_001 };

describe('verifyWebhook under mutation', () => {
  test('only the exact signed body verifies; any other body is WEBHOOK_BAD_SIGNATURE', async () => {
    await fc.assert(
      fc.asyncProperty(
        event.chain((e) => {
          const body = JSON.stringify(e);
          return fc.tuple(fc.constant(e), fc.constant(body), edit(body));
        }),
        fc.boolean(),
        async ([e, body, mutated], asBytes) => {
          const headers = await signed(body, e.id);
          const exact = await verifyWebhook(secret, headers, asBytes ? new TextEncoder().encode(body) : body, { now });
          expect(exact).toEqual({ ok: true, event: e });
          fc.pre(mutated !== body);
          expectRefused(await verifyWebhook(secret, headers, asBytes ? Buffer.from(mutated) : mutated, { now }), 'WEBHOOK_BAD_SIGNATURE');
          // Signed with another secret, even the exact body fails.
          expectRefused(await verifyWebhook(secret, await signed(body, e.id, ts, otherSecret), body, { now }), 'WEBHOOK_BAD_SIGNATURE');
        },
      ),
      RUNS,
    );
  });

  test('a changed id or timestamp header breaks the signature; a timestamp outside ±300 s is WEBHOOK_STALE', async () => {
    await fc.assert(
      fc.asyncProperty(event, fc.integer({ min: -1000, max: 1000 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), async (e, delta, otherId) => {
        const body = JSON.stringify(e);
        // Signed at another time: verifies exactly when inside the tolerance.
        const resigned = await verifyWebhook(secret, await signed(body, e.id, ts + delta), body, { now });
        if (Math.abs(delta) <= 300) expect(resigned.ok).toBe(true);
        else expectRefused(resigned, 'WEBHOOK_STALE');
        // The timestamp header moved after signing: never verifies.
        const headers = await signed(body, e.id);
        fc.pre(delta !== 0);
        const moved = await verifyWebhook(secret, { ...headers, 'webhook-timestamp': String(ts + delta) }, body, { now });
        expectRefused(moved, Math.abs(delta) <= 300 ? 'WEBHOOK_BAD_SIGNATURE' : 'WEBHOOK_STALE');
        fc.pre(otherId !== e.id);
        expectRefused(await verifyWebhook(secret, { ...headers, 'webhook-id': otherId }, body, { now }), 'WEBHOOK_BAD_SIGNATURE');
      }),
      RUNS,
    );
  });

  test('mangled signature headers never throw and never verify; a good signature among junk ones verifies', async () => {
    const sigPart = fc.oneof(
      fc.string({ maxLength: 60 }),
      // Near misses of `v1,<base64>`: every base64 length, padding, other versions.
      fc.record({ v: fc.constantFrom('v1', 'v2', 'V1', '', 'v1a'), b: fc.stringMatching(/^[A-Za-z0-9+/]{0,50}={0,3}$/) }).map(({ v, b }) => `${v},${b}`),
      fc.stringMatching(/^v1,[A-Za-z0-9+/=,]{0,60}$/),
    );
    await fc.assert(
      fc.asyncProperty(event, fc.array(sigPart, { minLength: 1, maxLength: 4 }), fc.boolean(), async (e, junk, keepGood) => {
        const body = JSON.stringify(e);
        const headers = await signed(body, e.id);
        const good = headers['webhook-signature'];
        fc.pre(!junk.some((j) => j.split(' ').includes(good)));
        const header = (keepGood ? [...junk, good] : junk).join(' ');
        const result = await verifyWebhook(secret, { ...headers, 'webhook-signature': header }, body, { now });
        if (keepGood) expect(result.ok).toBe(true);
        else expectRefused(result, header === '' ? 'WEBHOOK_MISSING_HEADERS' : 'WEBHOOK_BAD_SIGNATURE');
      }),
      { numRuns: 500, seed: 14_002 },
    );
  });

  test('signatures made of base64 letters that are not base64 (v1,A) are WEBHOOK_BAD_SIGNATURE, not a throw', async () => {
    const e = fc.sample(event, { numRuns: 1, seed: 1 })[0]!;
    const body = JSON.stringify(e);
    const headers = await signed(body, e.id);
    for (const sig of ['v1,A', 'v1,ABCDE', 'v1,A==', `v1,${'A'.repeat(45)}`, `v1,${headers['webhook-signature'].slice(3, -1)}`]) {
      expectRefused(await verifyWebhook(secret, { ...headers, 'webhook-signature': sig }, body, { now }), 'WEBHOOK_BAD_SIGNATURE');
    }
  });

  test('arbitrary headers and bodies never throw and always get a registered code with its status', async () => {
    const value = fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^\d{0,14}$/), fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }), fc.constant(undefined));
    const headers = fc.record(
      {
        'webhook-id': value,
        'Webhook-Timestamp': fc.oneof(value, fc.integer({ min: -400, max: 400 }).map((d) => String(ts + d))),
        'WEBHOOK-SIGNATURE': value,
        'content-type': fc.string({ maxLength: 20 }),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 }), fc.uint8Array({ maxLength: 200 }));
    await fc.assert(
      fc.asyncProperty(headers, body, fc.boolean(), async (h, b, asFetch) => {
        const given = asFetch ? new Headers(Object.entries(h).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v] as [string, string]] : []))) : (h as Record<string, string | string[] | undefined>);
        expectRefused(await verifyWebhook(secret, given, b, { now }));
      }),
      { numRuns: 500, seed: 14_003 },
    );
  });

  test('a correctly signed body that is not a webhook event is WEBHOOK_BAD_BODY, never a throw', async () => {
    const body = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 4 }),
      // Valid events with one field broken or removed.
      event.chain((e) =>
        fc.constantFrom<(x: any) => unknown>(
          (x) => ({ ...x, type: 'order.paid' }),
          (x) => ({ ...x, id: undefined }),
          (x) => ({ ...x, createdAt: -1 }),
          (x) => ({ ...x, data: { message: { ...x.data.message, body: { type: 'text' } } } }),
          (x) => ({ ...x, data: { message: { ...x.data.message, body: { type: 'text', text: 'x'.repeat(4001) } } } }),
          (x) => ({ ...x, data: { message: { ...x.data.message, seq: 1.5 } } }),
          (x) => [x],
        ).map((f) => JSON.stringify(f(e))),
      ),
      // Deep nesting.
      fc.integer({ min: 100, max: 3000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        expectRefused(await verifyWebhook(secret, await signed(b, 'evt_x'), b, { now }), 'WEBHOOK_BAD_BODY');
      }),
      RUNS,
    );
  });
});
