import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decode, encode, isPlainTextSend } from './decode.js';
import { ClientFrame } from './frames.js';
import { decodeServerFrame } from './decode-server-frame.js';
import { LIMITS, PROTOCOL_VERSION } from './limits.js';
import { CLOSE, shouldReconnect } from './close-codes.js';

/** JSON with every object's keys sorted: equal for values equal in content, whatever their key order. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1))) : value,
  );

describe('decode', () => {
  test('accepts a valid hello', () => {
    const r = decode(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_demo', lastSeq: 3 }));
    expect(r).toEqual({ ok: true, frame: { t: 'hello', v: 1, siteKey: 'pk_demo', lastSeq: 3 } });
  });

  test('accepts bytes and fragmented bytes', () => {
    const raw = new TextEncoder().encode(JSON.stringify({ t: 'ping' }));
    expect(decode(raw)).toMatchObject({ ok: true, frame: { t: 'ping' } });
    expect(decode([raw.slice(0, 3), raw.slice(3)])).toMatchObject({ ok: true, frame: { t: 'ping' } });
  });

  test('refuses bad JSON, unknown t and oversize frames with their codes', () => {
    expect(decode('{nope')).toMatchObject({ ok: false, code: 'BAD_JSON' });
    expect(decode(JSON.stringify({ t: 'launch' }))).toMatchObject({ ok: false, code: 'BAD_FRAME' });
    expect(decode('x'.repeat(LIMITS.maxFrameBytes + 1))).toMatchObject({ ok: false, code: 'TOO_LARGE' });
    expect(decode(new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false, code: 'BAD_JSON' });
    expect(decode(42)).toMatchObject({ ok: false, code: 'BAD_FRAME' });
  });

  test('counts UTF-8 bytes, not characters, against the size cap', () => {
    const body = { t: 'send', id: 'a1', body: { type: 'text', text: '好'.repeat(3000) } };
    expect(decode(JSON.stringify(body), 8000)).toMatchObject({ ok: false, code: 'TOO_LARGE' });
    expect(decode(JSON.stringify(body))).toMatchObject({ ok: true });
  });

  test('enforces message body limits', () => {
    const send = (body: unknown) => decode(JSON.stringify({ t: 'send', id: 'm1', body }));
    expect(send({ type: 'text', text: 'x'.repeat(LIMITS.maxTextLength) })).toMatchObject({ ok: true });
    expect(send({ type: 'text', text: 'x'.repeat(LIMITS.maxTextLength + 1) })).toMatchObject({ ok: false, code: 'BAD_FRAME' });
    expect(send({ type: 'rating', score: 6 })).toMatchObject({ ok: false, code: 'BAD_FRAME' });
    expect(send({ type: 'rating', score: 5, comment: 'great' })).toMatchObject({ ok: true });
    // Visitors cannot send cards.
    expect(send({ type: 'card', kind: 'product', title: 'x' })).toMatchObject({ ok: false, code: 'BAD_FRAME' });
  });

  test('caps attribute maps at LIMITS.maxAttrs keys', () => {
    const attrs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    const context = (n: number) => decode(JSON.stringify({ t: 'context', attrs: attrs(n) }));
    expect(context(LIMITS.maxAttrs)).toMatchObject({ ok: true });
    expect(context(LIMITS.maxAttrs + 1)).toMatchObject({ ok: false, code: 'BAD_FRAME', message: expect.stringContaining('attrs') });
    const hello = decode(JSON.stringify({ t: 'hello', v: 1, siteKey: 'pk', identity: { userId: 'u', attrs: attrs(LIMITS.maxAttrs + 1) } }));
    expect(hello).toMatchObject({ ok: false, code: 'BAD_FRAME' });
  });

  test('refuses javascript: links in server frames', () => {
    const msg = (url: string) =>
      decodeServerFrame(
        encode({
          t: 'msg',
          seq: 1,
          id: 'b1',
          ts: 1,
          from: { role: 'bot' },
          body: { type: 'card', kind: 'product', title: 'Shoe', url },
        }),
      );
    expect(msg('https://shop.example/shoe')).toMatchObject({ ok: true });
    expect(msg('javascript:alert(1)')).toMatchObject({ ok: false, code: 'BAD_FRAME' });
  });

  test('the zod-free check of a visitor text accepts exactly what ClientFrame accepts of that shape, and gives the same frame', () => {
    const edge = (max: number) => fc.oneof(fc.constant(0), fc.constant(1), fc.constant(max), fc.constant(max + 1), fc.nat({ max: max + 2 }));
    const id = fc.oneof(
      edge(LIMITS.maxIdLength).map((n) => 'a'.repeat(n)),
      fc.stringMatching(/^[\w-]{1,70}$/),
      fc.string({ maxLength: 8 }),
      fc.constantFrom('a b', 'é', 'm\n', 7, null),
    );
    const text = fc.oneof(edge(LIMITS.maxTextLength).map((n) => 'x'.repeat(n)), fc.string({ maxLength: 20 }), fc.constantFrom(5, null, ''));
    const extra = fc.option(fc.dictionary(fc.constantFrom('x', 'sources', '__proto__', 'seq', 'type', 'text', 't', 'id', 'body'), fc.jsonValue(), { maxKeys: 2 }), { nil: undefined });
    const frame = fc.record({
      t: fc.constantFrom('send', 'typing', 'Send'),
      id,
      body: fc.oneof(
        fc.record({ type: fc.constantFrom('text', 'postback', 'TEXT'), text, more: extra }).map(({ more, ...b }) => JSON.parse(JSON.stringify({ ...(more ?? {}), ...b }))),
        fc.constantFrom(null, 'text', ['text']),
      ),
      more: extra,
    }).map(({ more, ...f }) => JSON.parse(JSON.stringify({ ...(more ?? {}), ...f })) as unknown);
    fc.assert(
      fc.property(frame, (v) => {
        const zod = ClientFrame.safeParse(v);
        const plain = isPlainTextSend(v);
        if (plain) expect(zod.success && zod.data).toEqual(v);
        const shaped = zod.success && zod.data.t === 'send' && zod.data.body.type === 'text' && canonical(zod.data) === canonical(v);
        expect(plain).toBe(shaped);
        // decode gives the same either way.
        const decoded = decode(JSON.stringify(v));
        expect(decoded.ok).toBe(zod.success);
        if (decoded.ok && zod.success) expect(decoded.frame).toEqual(zod.data);
      }),
      { numRuns: 5000 },
    );
  });

  test('never throws on 10,000 random inputs', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array(), fc.anything().map((v) => JSON.stringify(v) ?? '')), (raw) => {
        const r = decode(raw);
        const s = decodeServerFrame(raw);
        return typeof r.ok === 'boolean' && typeof s.ok === 'boolean';
      }),
      { numRuns: 10_000 },
    );
  });
});

test('close codes in 4400–4499 mean do not reconnect', () => {
  expect(shouldReconnect(CLOSE.IDLE_TIMEOUT)).toBe(true);
  expect(shouldReconnect(1006)).toBe(true);
  expect(shouldReconnect(CLOSE.ORIGIN_REFUSED)).toBe(false);
  expect(shouldReconnect(CLOSE.BAD_SITE_KEY)).toBe(false);
});
