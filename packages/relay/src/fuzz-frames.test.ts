// Mutated widget frames of every type against a live relay. Each generated frame carries the
// outcome the protocol promises for it, so the relay's answers are checked against a model, not
// against its own decoder: an ack per valid send, a pong per ping, an error frame with a registry
// code per bad frame (a close with CLOSE.PROTOCOL_ERROR at the maxInvalidFrames-th), TOO_LARGE and
// CLOSE.FRAME_TOO_LARGE for an oversize frame, and a conversation log that holds exactly the acked
// sends. A second visitor's conversation is watched throughout.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { CLOSE, ERROR_CODES, LIMITS, PROTOCOL_VERSION, type LogEntry, type ServerFrame } from '@parley/protocol';
import { TestClient, startBackend, startRelay, testConfig } from './test-support/harness.js';

const MAX_INVALID = 10;
const WS_HARD_CAP = 64 * 1024;

let relay: Awaited<ReturnType<typeof startRelay>>;
let backend: Awaited<ReturnType<typeof startBackend>>;
let bystander: TestClient;
let bystanderConversation: string;

beforeAll(async () => {
  backend = await startBackend();
  relay = await startRelay(testConfig(backend.url), {
    // Floods and address caps have suites of their own; here every frame is judged on its content.
    limits: {
      rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
      newVisitorsPerIpPerMinute: 1_000_000,
      authFailuresPerIp: { perSecond: 1_000_000, burst: 1_000_000 },
      maxInvalidFrames: MAX_INVALID,
      maxConnectionsPerIp: 1000,
      restRateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
    },
  });
  bystander = await TestClient.open(relay.wsUrl);
  bystanderConversation = (await bystander.hello()).conversationId;
  bystander.send({ t: 'send', id: 'bystander-1', body: { type: 'text', text: 'my order' } });
  await bystander.take('ack');
});

afterAll(async () => {
  bystander.close();
  await relay.close();
  await backend.close();
});

/** The bystander saw only its own message, and its log holds only it. */
async function expectBystanderUntouched(): Promise<void> {
  expect(bystander.closed).toBeUndefined();
  expect(bystander.msgs().map((m) => m.id)).toEqual(['bystander-1']);
  const log = await relay.api('GET', `/v1/conversations/${bystanderConversation}/messages`);
  expect(log.json.entries.map((e: LogEntry) => e.id)).toEqual(['bystander-1']);
}

// ---- frames and what they must get ----

type Expect =
  | { kind: 'ack'; body: object }
  | { kind: 'pong' }
  | { kind: 'silent' }
  | { kind: 'error'; codes: string[] }
  | { kind: 'too-large' };

/** A frame to send: JSON-able (`id: ID` is replaced by a fresh send id), raw text, or bytes. */
interface Op {
  frame: unknown;
  binary?: boolean;
  expect: Expect;
  what: string;
}

const ID = '\u0000id';
/** Markers put in ignored fields; none may come back from the relay. */
const markers = new Set<string>();
let markerCount = 0;
const marker = () => {
  const m = `zq-marker-${(markerCount++).toString(36)}-qz`;
  markers.add(m);
  return m;
};
function expectNoMarker(text: string): void {
  for (const m of markers) if (text.includes(m)) expect(text).not.toContain(m);
}

const shortText = (max: number) => fc.string({ minLength: 1, maxLength: max });
const visitorBody = fc.oneof(
  fc.record({ type: fc.constant('text'), text: fc.oneof(shortText(50), fc.string({ minLength: LIMITS.maxTextLength, maxLength: LIMITS.maxTextLength })) }),
  fc.record({ type: fc.constant('postback'), value: shortText(LIMITS.maxValueLength), label: shortText(LIMITS.maxLabelLength) }),
  fc.record({ type: fc.constant('rating'), score: fc.integer({ min: 1, max: 5 }), comment: fc.string({ maxLength: 100 }) }, { requiredKeys: ['type', 'score'] }),
  fc.record({ type: fc.constant('contact'), email: fc.stringMatching(/^[a-z0-9.]{1,20}@[a-z]{1,10}\.example$/), text: shortText(50) }),
);
const page = fc.record({ url: fc.webUrl({ size: 'small' }), title: fc.string({ maxLength: 30 }), locale: fc.constantFrom('en', 'de-DE') }, { requiredKeys: [] });
const attrs = fc.dictionary(fc.stringMatching(/^[a-z]{1,10}$/), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 5 });

/** Valid frames of every type after hello, with what each gets. */
const validFrame: fc.Arbitrary<{ frame: Record<string, unknown>; expect: Expect; what: string }> = fc.oneof(
  visitorBody.map((body) => ({ frame: { t: 'send', id: ID, body }, expect: { kind: 'ack', body } as Expect, what: `send ${body.type}` })),
  fc.boolean().map((on) => ({ frame: { t: 'typing', on }, expect: { kind: 'silent' } as Expect, what: 'typing' })),
  fc.nat({ max: 1000 }).map((seq) => ({ frame: { t: 'read', seq }, expect: { kind: 'silent' } as Expect, what: 'read' })),
  fc
    .record({ page, product: fc.record({ title: shortText(30), price: fc.constant('€9.00') }), attrs }, { requiredKeys: [] })
    .map((c) => ({ frame: { t: 'context', ...c }, expect: { kind: 'silent' } as Expect, what: 'context' })),
  fc.option(fc.nat(), { nil: undefined }).map((ts) => ({ frame: ts === undefined ? { t: 'ping' } : { t: 'ping', ts }, expect: { kind: 'pong' } as Expect, what: 'ping' })),
);

const BAD_FRAME: Expect = { kind: 'error', codes: ['BAD_FRAME'] };
/** Values of every JSON type, so at least one is wrong for any field. */
const wrongValue = fc.constantFrom<unknown>(null, 0, -1, 1.5, '', 'x', true, [], {}, [1, 2], { t: 'send' });

/** Required fields of each frame, dotted. */
const REQUIRED: Record<string, string[]> = {
  send: ['t', 'id', 'body', 'body.type'],
  typing: ['t', 'on'],
  read: ['t', 'seq'],
  context: ['t'],
  ping: ['t'],
};
/** Values of the right type out of their field's range: [frame type, field, value]. */
const OUT_OF_RANGE: Array<[string, string, unknown]> = [
  ['send', 'id', 'x'.repeat(LIMITS.maxIdLength + 1)],
  ['send', 'id', 'has space'],
  ['send', 'id', 'ünïcode'],
  ['send', 'body.text', ''],
  ['send', 'body.text', 'x'.repeat(LIMITS.maxTextLength + 1)],
  ['send', 'body.score', 0],
  ['send', 'body.score', 6],
  ['send', 'body.score', 2.5],
  ['send', 'body.value', 'v'.repeat(LIMITS.maxValueLength + 1)],
  ['send', 'body.label', ''],
  ['send', 'body.email', 'not-an-email'],
  ['send', 'body.comment', 'c'.repeat(LIMITS.maxCommentLength + 1)],
  ['read', 'seq', -1],
  ['read', 'seq', 1.5],
  ['read', 'seq', Number.MAX_SAFE_INTEGER + 2],
  ['ping', 'ts', -5],
  ['context', 'page.url', 'javascript:alert(1)'],
  ['context', 'page.title', 't'.repeat(LIMITS.maxShortLength * 2 + 1)],
  ['context', 'product.title', ''],
  ['context', 'attrs.k', { nested: true }],
];

function clone(o: Record<string, unknown>): Record<string, any> {
  return structuredClone(o);
}
/** The JSON type of a value: a wrong value is one of another type. */
const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
function getPath(o: Record<string, any>, path: string): unknown {
  return path.split('.').reduce<any>((at, k) => at?.[k], o);
}
function setPath(o: Record<string, any>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = o;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null) at[k] = {};
    at = at[k];
  }
  at[keys.at(-1)!] = value;
}
function deletePath(o: Record<string, any>, path: string): void {
  const keys = path.split('.');
  let at = o;
  for (const k of keys.slice(0, -1)) at = at?.[k];
  if (at) delete at[keys.at(-1)!];
}

/** A body field that must be present for this body type. */
const BODY_REQUIRED: Record<string, string[]> = { text: ['text'], postback: ['value', 'label'], rating: ['score'], contact: ['email', 'text'] };

/** Mutations of a valid frame that make it invalid. */
const brokenFrame: fc.Arbitrary<Op> = fc
  .tuple(validFrame, fc.nat(), wrongValue, fc.nat({ max: OUT_OF_RANGE.length - 1 }))
  .chain(([valid, pick, wrong, range]) => {
    const t = valid.frame.t as string;
    const required = [...REQUIRED[t]!, ...(t === 'send' ? BODY_REQUIRED[(valid.frame.body as { type: string }).type]!.map((f) => `body.${f}`) : [])];
    const field = required[pick % required.length]!;
    const inRange = OUT_OF_RANGE.filter(([ft]) => ft === t);
    const options: Array<fc.Arbitrary<Op>> = [
      fc.constant(((f) => (deletePath(f, field), { frame: f, expect: BAD_FRAME, what: `${t} without ${field}` }))(clone(valid.frame))),
      ...(jsonType(wrong) !== jsonType(getPath(valid.frame, field))
        ? [fc.constant(((f) => (setPath(f, field, wrong), { frame: f, expect: BAD_FRAME, what: `${t} with ${field}=${JSON.stringify(wrong)}` }))(clone(valid.frame)))]
        : []),
      fc.constantFrom('card', 'quick_replies', 'file', 'nope', '').map((type) => ({ frame: { t: 'send', id: ID, body: { type, text: 'x', title: 'x', kind: 'product' } }, expect: BAD_FRAME, what: `send ${type}` })),
      fc.string({ maxLength: 12 }).filter((s) => !(s in REQUIRED) && s !== 'hello').map((bad) => ({ frame: { ...valid.frame, t: bad }, expect: BAD_FRAME, what: `t=${bad}` })),
      // A second hello is refused without closing.
      fc.constant({ frame: { t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' }, expect: BAD_FRAME, what: 'second hello' }),
      // Deep nesting, well under the frame cap.
      fc.integer({ min: 50, max: 2000 }).map((depth) => ({ frame: `{"t":"send","id":"deep","body":${'['.repeat(depth)}${']'.repeat(depth)}}`, expect: BAD_FRAME, what: `nesting ${depth}` })),
    ];
    if (wrong !== null && typeof wrong !== 'object' && t === 'send') {
      // A body that is not an object at all.
      options.push(fc.constant({ frame: { t: 'send', id: ID, body: wrong }, expect: BAD_FRAME, what: 'scalar body' }));
    }
    if (inRange.length) {
      const [, path, value] = inRange[range % inRange.length]!;
      const applicable = t !== 'send' || path === 'id' || BODY_REQUIRED[(valid.frame.body as { type: string }).type]!.includes(path.slice(5)) || (path === 'body.comment' && (valid.frame.body as { type: string }).type === 'rating');
      if (applicable) options.push(fc.constant(((f) => (setPath(f, path, value), { frame: f, expect: BAD_FRAME, what: `${t} ${path} out of range` }))(clone(valid.frame))));
    }
    return fc.oneof(...options);
  });

/** Valid frames with extra fields (ignored, never stored) carrying a marker. */
const extraFields: fc.Arbitrary<Op> = fc.tuple(validFrame, fc.stringMatching(/^x_[a-z]{1,8}$/), fc.anything({ maxDepth: 2 })).map(([valid, key, value]) => {
  const f = clone(valid.frame);
  f[key] = { value, marker: marker() };
  if (f.body) f.body[key] = marker();
  return { frame: f, expect: valid.expect, what: `${valid.what} + ${key}` };
});

/** Text that is not JSON, or JSON that is not an object frame. */
const notAFrame: fc.Arbitrary<Op> = fc.oneof(
  validFrame.chain((v) => {
    const text = JSON.stringify(v.frame);
    return fc.nat({ max: text.length - 2 }).map((cut) => ({ frame: text.slice(0, cut + 1), expect: { kind: 'error', codes: ['BAD_JSON'] } as Expect, what: 'truncated JSON' }));
  }),
  fc.string({ maxLength: 100 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }).map((s) => ({ frame: s, expect: { kind: 'error', codes: ['BAD_JSON'] } as Expect, what: 'not JSON' })),
  fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(fc.nat(), { maxLength: 3 }), fc.boolean()).map((v) => ({
    frame: JSON.stringify(v),
    expect: BAD_FRAME,
    what: 'JSON scalar',
  })),
);

/** Binary frames, which the protocol does not use: random bytes, or a valid frame's bytes, each refused with BAD_FRAME. */
const binaryFrame: fc.Arbitrary<Op> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ frame: Buffer.from(bytes), binary: true, expect: BAD_FRAME, what: 'random bytes' })),
  validFrame.map((v) => ({ frame: v.frame, binary: true, expect: BAD_FRAME, what: `binary ${v.what}` })),
);

/** A frame over `limits.maxFrameBytes` (but under the socket layer's hard cap). */
const oversize: fc.Arbitrary<Op> = fc.integer({ min: LIMITS.maxFrameBytes - 20, max: WS_HARD_CAP - 100 }).map((n) => ({
  frame: { t: 'send', id: ID, body: { type: 'text', text: 'x'.repeat(n) } },
  expect: { kind: 'too-large' },
  what: `oversize ${n}`,
}));

/** Frames that fit the cap. */
const fitting: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: validFrame },
  { weight: 4, arbitrary: brokenFrame },
  { weight: 2, arbitrary: extraFields },
  { weight: 2, arbitrary: notAFrame },
  { weight: 2, arbitrary: binaryFrame },
  // Resend an earlier send with the same id and body: acked again, stored once.
  { weight: 1, arbitrary: fc.constant<Op>({ frame: 'RESEND', expect: { kind: 'silent' }, what: 'resend' }) },
);
/**
 * Up to 40 frames; half the sequences may hold an oversize frame (which ends them), the other half
 * run on until the maxInvalidFrames-th bad frame closes the socket, or to the end.
 */
const sequence = (withOversize: boolean): fc.Arbitrary<Op[]> =>
  fc.array(withOversize ? fc.oneof({ weight: 17, arbitrary: fitting }, { weight: 1, arbitrary: oversize }) : fitting, { minLength: 1, maxLength: 40, size: 'max' });

let runs = 0;
/** What the runs went through, so a generator that stops producing a case fails the suite. */
const seen = new Set<string>();

describe('mutated widget frames after hello', () => {
  test('each frame gets what the protocol promises; the log holds exactly the acked sends; the other visitor is untouched', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean().chain(sequence), async (ops) => {
        const run = runs++;
        const c = await TestClient.open(relay.wsUrl);
        try {
          const { conversationId } = await c.hello();
          const expected: Array<{ t: string; code?: string[]; id?: string }> = [];
          const sent: Array<{ id: string; body: object; frame: string }> = [];
          let invalid = 0;
          let closeCode: number | undefined;
          let pongs = 0;
          for (let i = 0; i < ops.length && closeCode === undefined; i++) {
            const o = ops[i]!;
            if (o.frame === 'RESEND') {
              const earlier = sent[i % Math.max(1, sent.length)];
              if (!earlier) continue;
              seen.add('resend');
              c.send(earlier.frame);
              expected.push({ t: 'ack', id: earlier.id });
              continue;
            }
            const id = `r${run}_${i}`;
            const text = typeof o.frame === 'string' || Buffer.isBuffer(o.frame) ? o.frame : JSON.stringify(o.frame).replace(JSON.stringify(ID), JSON.stringify(id));
            if (o.binary) c.ws.send(Buffer.isBuffer(text) ? text : Buffer.from(text), { binary: true });
            else c.send(text);
            switch (o.expect.kind) {
              case 'ack':
                expected.push({ t: 'ack', id });
                sent.push({ id, body: o.expect.body, frame: text as string });
                break;
              case 'pong':
                pongs++;
                expected.push({ t: 'pong' });
                break;
              case 'error':
                expected.push({ t: 'error', code: o.expect.codes });
                if (++invalid >= MAX_INVALID) closeCode = CLOSE.PROTOCOL_ERROR;
                break;
              case 'too-large':
                expected.push({ t: 'error', code: ['TOO_LARGE'] });
                closeCode = CLOSE.FRAME_TOO_LARGE;
                break;
            }
          }
          for (const o of ops) seen.add(`${o.binary ? 'binary ' : ''}${o.expect.kind}${o.what.includes(' + x_') ? ' extra' : ''}`);
          if (closeCode !== undefined) seen.add(`close ${closeCode}`);
          if (closeCode === undefined) {
            c.send({ t: 'ping' });
            expected.push({ t: 'pong' });
            await c.take((f) => f.t === 'pong' && c.frames.filter((x) => x.t === 'pong').length === pongs + 1, 10_000);
            expect(c.closed).toBeUndefined();
          } else {
            expect((await c.waitClosed(2000)).code).toBe(closeCode);
          }

          // What the relay answered, in order, against the model.
          const answers = c.frames.filter((f) => f.t === 'ack' || f.t === 'error' || f.t === 'pong');
          const shape = (f: ServerFrame) => (f.t === 'ack' ? { t: 'ack', id: f.id } : f.t === 'error' ? { t: 'error', code: f.code } : { t: f.t });
          const model = expected.map((e) => (e.code ? { t: 'error', code: expect.toBeOneOf(e.code) } : e));
          expect(answers.map(shape), ops.map((o) => o.what).join(' | ')).toEqual(model);
          for (const e of c.frames.filter((f) => f.t === 'error')) expect(ERROR_CODES).toContain((e as { code: string }).code);

          // Every acked send is stored once, with its valid body only (extra fields dropped); nothing else is.
          const acks = new Map<string, number>();
          for (const a of c.frames) {
            if (a.t !== 'ack') continue;
            // A resent id is acked with its first seq.
            expect(acks.get(a.id) ?? a.seq).toBe(a.seq);
            acks.set(a.id, a.seq);
          }
          const log = await relay.api('GET', `/v1/conversations/${conversationId}/messages?limit=200`);
          if (!sent.length) expect(log.status).toBe(404);
          else {
            const msgs = (log.json.entries as LogEntry[]).filter((e) => e.kind === 'msg');
            expect(msgs.map((m) => ({ id: m.id, seq: m.seq, body: (m as { body: object }).body }))).toEqual(
              sent.map((s) => ({ id: s.id, seq: acks.get(s.id), body: s.body })),
            );
            expectNoMarker(JSON.stringify(log.json));
            // The socket got each of its own messages once.
            if (closeCode === undefined) {
              await c.take((f) => f.t === 'msg' && f.id === sent.at(-1)!.id);
              expect(c.msgs().map((m) => m.id)).toEqual(sent.map((s) => s.id));
            }
          }
        } finally {
          c.close();
        }
        expect(bystander.msgs().map((m) => m.id)).toEqual(['bystander-1']);
      }),
      // A failing seed shrinks for at most 20 s, so a broken relay fails fast instead of timing out.
      { numRuns: 800, seed: 14_014, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: true },
    );
    expect([...seen].sort()).toEqual(
      expect.arrayContaining(['ack', 'ack extra', 'binary error', 'close 4006', 'close 4007', 'error', 'pong', 'resend', 'silent', 'silent extra', 'too-large']),
    );
    await expectBystanderUntouched();
  }, 120_000);
});

// ---- the first frame ----

type Refusal = { code: string; close: number } | 'welcome' | 'anonymous';

const HEX = '0123456789abcdef';
const helloOp: fc.Arbitrary<{ frame: unknown; expect: Refusal; what: string }> = fc.oneof(
  fc.constant({ frame: { t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' }, expect: 'welcome' as Refusal, what: 'hello' }),
  fc.stringMatching(/^x_[a-z]{1,8}$/).map((k) => ({ frame: { t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', [k]: marker() }, expect: 'welcome' as Refusal, what: 'hello + extra' })),
  fc.integer().filter((v) => v !== PROTOCOL_VERSION).map((v) => ({ frame: { t: 'hello', v, siteKey: 'pk_test' }, expect: { code: 'UNSUPPORTED_VERSION', close: CLOSE.UNSUPPORTED_VERSION }, what: `v=${v}` })),
  fc.stringMatching(/^pk_[a-z]{1,12}$/).filter((k) => k !== 'pk_test' && k !== 'pk_other').map((siteKey) => ({
    frame: { t: 'hello', v: PROTOCOL_VERSION, siteKey },
    expect: { code: 'BAD_SITE_KEY', close: CLOSE.BAD_SITE_KEY },
    what: 'unknown site',
  })),
  fc.string({ minLength: 1, maxLength: 1024 }).map((token) => ({ frame: { t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', token }, expect: { code: 'TOKEN_INVALID', close: CLOSE.TOKEN_INVALID }, what: 'forged token' })),
  fc.array(fc.constantFrom(...HEX), { minLength: 64, maxLength: 64 }).map((hex) => ({
    frame: { t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', identity: { userId: 'u1', signature: hex.join('') } },
    expect: 'anonymous' as Refusal,
    what: 'forged identity',
  })),
  fc
    .constantFrom<[string, unknown]>(
      ['v', '1'],
      ['v', 1.5],
      ['siteKey', ''],
      ['siteKey', 7],
      ['siteKey', 's'.repeat(LIMITS.maxShortLength + 1)],
      ['token', ''],
      ['token', 't'.repeat(1025)],
      ['lastSeq', -1],
      ['fresh', 'yes'],
      ['page', { url: 'ftp://x' }],
      ['identity', { userId: 'u', signature: 'nothex' }],
      ['identity', { signature: '0'.repeat(64) }],
    )
    .map(([k, v]) => ({ frame: { t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', [k]: v }, expect: { code: 'BAD_FRAME', close: CLOSE.BAD_HELLO }, what: `hello ${k}=${JSON.stringify(v).slice(0, 20)}` })),
  fc.constantFrom('v', 'siteKey', 't').map((k) => {
    const f: Record<string, unknown> = { t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' };
    delete f[k];
    return { frame: f, expect: { code: k === 't' ? 'BAD_FRAME' : 'BAD_FRAME', close: CLOSE.BAD_HELLO }, what: `hello without ${k}` };
  }),
  validFrame.map((v) => ({ frame: JSON.stringify(v.frame).replace(JSON.stringify(ID), '"x1"'), expect: { code: 'HELLO_REQUIRED', close: CLOSE.BAD_HELLO }, what: `${v.what} first` })),
  notAFrame.map((o) => ({ frame: o.frame, expect: { code: (o.expect as { codes: string[] }).codes[0]!, close: CLOSE.BAD_HELLO }, what: o.what })),
  // Even a valid hello, sent as a binary frame.
  fc.constant({ frame: Buffer.from(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test' })), expect: { code: 'BAD_FRAME', close: CLOSE.BAD_HELLO }, what: 'binary hello' }),
  fc.integer({ min: LIMITS.maxFrameBytes, max: WS_HARD_CAP - 100 }).map((n) => ({
    frame: { t: 'hello', v: PROTOCOL_VERSION, siteKey: 'pk_test', page: { title: 'x'.repeat(n) } },
    expect: { code: 'TOO_LARGE', close: CLOSE.FRAME_TOO_LARGE },
    what: `oversize hello ${n}`,
  })),
);

describe('mutated first frames', () => {
  test('a bad first frame gets one error frame with its code and the documented close; a good one a welcome', async () => {
    await fc.assert(
      fc.asyncProperty(helloOp, fc.boolean(), async (h, followUp) => {
        const c = await TestClient.open(relay.wsUrl);
        onTestFinished(() => c.close());
        if (Buffer.isBuffer(h.frame)) c.ws.send(h.frame, { binary: true });
        else c.send(typeof h.frame === 'string' ? h.frame : JSON.stringify(h.frame));
        // Frames behind a refused hello are never handled.
        if (followUp) c.send({ t: 'send', id: 'after', body: { type: 'text', text: 'ignored?' } });
        if (h.expect === 'welcome') {
          await c.take('welcome');
          c.close();
          return;
        }
        if (h.expect === 'anonymous') {
          // A refused identity is dropped: the visitor is welcomed anonymously and told why (once
          // the address used up its allowance, the signature is no longer checked at all).
          expect((await c.take('welcome')).identity).toBeUndefined();
          expect(['IDENTITY_INVALID', 'RATE_LIMITED']).toContain((await c.take('error')).code);
          c.close();
          return;
        }
        const { code } = await c.waitClosed(2000);
        expect({ what: h.what, frames: c.frames, close: code }).toEqual({
          what: h.what,
          frames: [{ t: 'error', code: h.expect.code, message: expect.any(String) }],
          close: h.expect.close,
        });
        expectNoMarker(JSON.stringify(c.frames));
      }),
      { numRuns: 500, seed: 14_015, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: true },
    );
    await expectBystanderUntouched();
  }, 60_000);
});

describe('the frame cap, in bytes', () => {
  test('a frame of exactly limits.maxFrameBytes UTF-8 bytes is served; one byte more gets TOO_LARGE and CLOSE.FRAME_TOO_LARGE', async () => {
    const MAX = 1024;
    const small = await startRelay(testConfig(backend.url), { limits: { maxFrameBytes: MAX } });
    try {
      /** A ping padded with two-byte characters (and one ASCII byte when needed) to `bytes` bytes. */
      const ping = (bytes: number) => {
        const head = Buffer.byteLength('{"t":"ping","pad":""}');
        const n = bytes - head;
        return `{"t":"ping","pad":"${'é'.repeat(Math.floor(n / 2))}${n % 2 ? 'x' : ''}"}`;
      };
      expect(Buffer.byteLength(ping(MAX))).toBe(MAX);
      expect(ping(MAX).length).toBeLessThan(MAX);
      const c = await TestClient.open(small.wsUrl);
      expect((await c.hello()).limits.maxFrameBytes).toBe(MAX);
      c.send(ping(MAX));
      await c.take('pong');
      c.send(ping(MAX + 1));
      expect(await c.take('error')).toMatchObject({ code: 'TOO_LARGE' });
      expect((await c.waitClosed()).code).toBe(CLOSE.FRAME_TOO_LARGE);
    } finally {
      await small.close();
    }
  });
});

describe('frames the socket layer refuses', () => {
  test('a frame over the hard cap is cut with 1009 and the other visitor is still served', async () => {
    const c = await TestClient.open(relay.wsUrl);
    await c.hello();
    c.send({ t: 'send', id: 'huge', body: { type: 'text', text: 'x'.repeat(WS_HARD_CAP) } });
    expect((await c.waitClosed()).code).toBe(1009);
    expect(c.frames.filter((f) => f.t !== 'welcome')).toEqual([]);
    bystander.send({ t: 'ping' });
    await bystander.take('pong');
    await expectBystanderUntouched();
    expect((await fetch(`${relay.base}/healthz`)).status).toBe(200);
  });
});
