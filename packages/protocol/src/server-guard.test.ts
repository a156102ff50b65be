import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeServerFrame } from './decode-server-frame.js';
import { ServerFrame } from './frames.js';
import { LIMITS as L } from './limits.js';
import { VisitorBody } from './messages.js';
import { isVisitorBody, parseServerFrame } from './server-guard.js';
import { MAX_UPLOAD_PAIRS, MAX_UPLOAD_TYPES, MAX_UPLOAD_VALUE } from './uploads.js';
import { MAX_PAST, PAST_PAGE, PREVIEW_LENGTH } from './past.js';

// The guard must accept exactly what the zod schema accepts and return exactly what
// `safeParse` returns. Valid frames of every kind are generated, then damaged at random.

const S = L.maxShortLength;
const MAX = Number.MAX_SAFE_INTEGER;

// Strings are measured in code points, so the boundaries are also tried with characters
// that take two UTF-16 units, and with lone surrogates.
const unit = fc.constantFrom('a', 'Z', '0', ' ', '-', '_', 'é', '好', '😀', '\uD83D', '\uDE00', '\n');
const exactly = (n: number) => fc.constantFrom('a', '好', '😀', '\uD83D').map((c) => c.repeat(n));
const free = (max: number, min = 0) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit, minLength: min, maxLength: Math.min(max, 12) }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: min, maxLength: Math.min(max, 8) }) },
    { weight: 1, arbitrary: exactly(max) },
  );
const idChar = fc.constantFrom(...'abcXYZ019_-');
const id = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: idChar, minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(L.maxIdLength), '_'.repeat(L.maxIdLength)) },
);
const url = fc.oneof(
  { weight: 4, arbitrary: fc.webUrl() },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('http://', 'https://', 'HTTPS://'), fc.string({ unit: fc.constantFrom('a', '.', '/', '?', '=', 'é', '😀', '%'), minLength: 1, maxLength: 20 }))
      .map(([a, b]) => a + b),
  },
  { weight: 1, arbitrary: fc.constantFrom('a', '😀').map((c) => 'https://' + c.repeat(L.maxUrlLength - 8)) },
);
const email = fc.oneof(
  fc
    .tuple(fc.string({ unit: idChar, minLength: 1, maxLength: 10 }), fc.string({ unit: idChar, minLength: 1, maxLength: 10 }), fc.constantFrom('com', 'de', 'shop'))
    .map(([a, b, c]) => `${a}@${b}.${c}`),
  fc.constant(`${'a'.repeat(S - 9)}@shop.com`),
);
/** Arrays of up to `max` items, often exactly `max`, so one more crosses the limit. */
const list = <T>(item: fc.Arbitrary<T>, max: number, min = 0) =>
  fc.oneof(fc.array(item, { minLength: min, maxLength: max }), fc.array(item, { minLength: max, maxLength: max }));
const nat = (max = MAX) => fc.oneof(fc.constantFrom(0, 1, max), fc.integer({ min: 0, max }));
const seq = nat();
const ts = fc.oneof(nat(), fc.constant(1_760_000_000_000));

const sender = fc.record(
  { role: fc.constantFrom('visitor', 'bot', 'agent', 'system'), id, name: free(S, 1), avatarUrl: url, ai: fc.boolean() },
  { requiredKeys: ['role'] },
);
const button = fc.record({ label: free(L.maxLabelLength, 1), value: free(L.maxValueLength, 1) });
const sources = list(fc.record({ title: free(S, 1), url }), L.maxSources);
const visitorText = fc.record({ type: fc.constant('text'), text: free(L.maxTextLength, 1) });
const bodies = {
  text: fc.record({ type: fc.constant('text'), text: free(L.maxTextLength, 1), sources }, { requiredKeys: ['type', 'text'] }),
  quick_replies: fc.record(
    {
      type: fc.constant('quick_replies'),
      text: free(L.maxTextLength, 1),
      replies: list(button, L.maxQuickReplies, 1),
      sources,
    },
    { requiredKeys: ['type', 'text', 'replies'] },
  ),
  card: fc.record(
    {
      type: fc.constant('card'),
      kind: fc.constantFrom('product', 'order'),
      title: free(S, 1),
      subtitle: free(S * 2),
      price: free(S),
      imageUrl: url,
      url,
      actions: list(
        fc.record({ label: free(L.maxLabelLength, 1), value: free(L.maxValueLength, 1), url }, { requiredKeys: ['label'] }),
        L.maxCardActions,
      ),
    },
    { requiredKeys: ['type', 'kind', 'title'] },
  ),
  postback: fc.record({ type: fc.constant('postback'), value: free(L.maxValueLength, 1), label: free(L.maxLabelLength, 1) }),
  rating: fc.record(
    { type: fc.constant('rating'), score: fc.integer({ min: 1, max: 5 }), comment: free(L.maxCommentLength) },
    { requiredKeys: ['type', 'score'] },
  ),
  file: fc.record({ type: fc.constant('file'), name: free(S, 1), size: nat(), mime: free(S, 1), url }),
  contact: fc.record({ type: fc.constant('contact'), email, text: free(L.maxTextLength, 1) }),
};
const body = fc.oneof(...Object.values(bodies));
const visitorBody = fc.oneof(visitorText, bodies.postback, bodies.rating, bodies.contact, bodies.file);
// Mostly a few pairs, sometimes exactly the most allowed (a full list makes hundreds of one-step changes).
const pair = fc.record({ name: free(S, 1), value: fc.oneof(free(8), fc.constant('p'.repeat(MAX_UPLOAD_VALUE))) });
const pairs = fc.oneof({ weight: 9, arbitrary: fc.array(pair, { maxLength: 2 }) }, { weight: 1, arbitrary: fc.array(pair, { minLength: MAX_UPLOAD_PAIRS, maxLength: MAX_UPLOAD_PAIRS }) });

const events = [
  fc.record({ type: fc.constant('typing'), on: fc.boolean(), from: sender }, { requiredKeys: ['type', 'on'] }),
  fc.record({ type: fc.constant('read'), seq, from: sender }, { requiredKeys: ['type', 'seq'] }),
  fc.record({ type: fc.constant('queue'), position: nat(100_000), etaSec: nat() }, { requiredKeys: ['type', 'position'] }),
  fc.record({ type: fc.constant('agent_joined'), agent: sender }),
  fc.record({ type: fc.constant('agent_left'), agent: sender }),
  fc.record({ type: fc.constant('handoff'), state: fc.constantFrom('requested', 'accepted') }),
  fc.record({ type: fc.constant('rating_request'), text: free(L.maxTextLength) }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('availability'), online: fc.boolean() }),
  fc.record({ type: fc.constant('closed'), reason: free(S) }, { requiredKeys: ['type'] }),
];

/** Log entries of a past conversation's page. */
const entries = {
  msg: fc.record({ kind: fc.constant('msg'), seq, id, ts, from: sender, body, incomplete: fc.boolean() }, { requiredKeys: ['kind', 'seq', 'id', 'ts', 'from', 'body'] }),
  event: fc.record({ kind: fc.constant('event'), seq, id, ts, event: fc.oneof(...events) }),
};
const past = fc.record({ id, createdAt: ts, closed: fc.boolean(), lastSeq: seq, preview: free(PREVIEW_LENGTH) }, { requiredKeys: ['id', 'createdAt', 'closed', 'lastSeq'] });

const frames = {
  welcome: fc.record(
    {
      t: fc.constant('welcome'),
      v: fc.oneof(fc.constant(1), fc.integer()),
      conversationId: id,
      visitorId: id,
      token: free(1024, 1),
      lastSeq: seq,
      reset: fc.boolean(),
      greeting: fc.record({ text: free(L.maxTextLength, 1), quickReplies: list(button, L.maxQuickReplies) }),
      site: fc.record({ name: free(S, 1) }),
      online: fc.boolean(),
      identity: fc.record({ userId: free(S, 1), verified: fc.boolean() }),
      limits: fc.record({ maxFrameBytes: fc.double({ noNaN: true, noDefaultInfinity: true }), maxTextLength: fc.integer(), maxQuickReplies: fc.nat() }),
    },
    { requiredKeys: ['t', 'v', 'conversationId', 'visitorId', 'token', 'lastSeq', 'greeting', 'site', 'online', 'limits'] },
  ),
  ack: fc.record({ t: fc.constant('ack'), id, seq, ts }),
  msg: fc.record({ t: fc.constant('msg'), seq, id, ts, from: sender, body, incomplete: fc.boolean() }, { requiredKeys: ['t', 'seq', 'id', 'ts', 'from', 'body'] }),
  event: fc.record({ t: fc.constant('event'), seq, id, ts, event: fc.oneof(...events) }, { requiredKeys: ['t', 'ts', 'event'] }),
  error: fc.record({ t: fc.constant('error'), code: free(64, 1), message: free(S * 2), id }, { requiredKeys: ['t', 'code', 'message'] }),
  pong: fc.record({ t: fc.constant('pong'), ts }),
  draft: fc.record({ t: fc.constant('draft'), id, ts, from: sender, offset: nat(L.maxTextLength), text: free(L.maxTextLength) }),
  upload: fc.record(
    {
      t: fc.constant('upload'),
      id,
      url,
      method: fc.constantFrom('PUT', 'POST'),
      fields: pairs,
      headers: pairs,
      fileUrl: url,
      maxBytes: nat(),
      types: list(fc.oneof(fc.constantFrom('image/*', 'application/pdf'), free(S, 1)), MAX_UPLOAD_TYPES),
    },
    { requiredKeys: ['t', 'id', 'url', 'method', 'fileUrl', 'maxBytes', 'types'] },
  ),
  // A few items: a full list or page would make too many one-step changes; the test of the
  // lengths below tries those boundaries.
  conversations: fc.record({ t: fc.constant('conversations'), id, items: fc.array(past, { maxLength: 3 }) }),
  history: fc.record({ t: fc.constant('history'), id, conversationId: id, entries: fc.array(fc.oneof(entries.msg, entries.event), { maxLength: 3 }), hasMore: fc.boolean() }),
};
const frame = fc.oneof(...Object.values(frames));

// ---- damage ----

// Every key name and every literal or enum value in the schema, read from zod itself, so a
// key or value added to the schema and forgotten in the guard shows up here.
const keys = new Set<string>();
const literals = new Set<string>(['robot', 'Text', 'hello', 'send', '']);
const walk = (schema: unknown, seen = new Set<unknown>()): void => {
  if (!schema || seen.has(schema)) return;
  seen.add(schema);
  const def = (schema as { _zod: { def: Record<string, any> } })._zod.def;
  if (def.type === 'object') for (const k in def.shape) keys.add(k), walk(def.shape[k], seen);
  if (def.type === 'literal') for (const v of def.values) literals.add(String(v));
  if (def.type === 'enum') for (const v of Object.values(def.entries)) literals.add(String(v));
  for (const o of def.options ?? []) walk(o, seen);
  walk(def.innerType, seen);
  walk(def.element, seen);
};
walk(ServerFrame);

const lengths = [...new Set([...Object.values(L), 35, 64, 1024, S * 2, S * 5].flatMap((n) => [n - 1, n, n + 1]))].filter((n) => n >= 0 && n <= 5000);
const junk = fc.oneof(
  fc.constantFrom<unknown>(
    null, true, false, 0, -0, -1, 0.5, 1.5, 5, 6, 100_000, 100_001, MAX, MAX + 1, 2 ** 53 + 2, -MAX - 2, NaN, Infinity, -Infinity,
    '', ' ', 'x', 'a b', 'é', '😀', 'javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<b>', 'https://', 'https:// x', 'http://a\nb', 'ftp://shop.example', '//shop.example',
    'a@b', 'a@b.c', 'a b@c.d', '@b.c', [], {}, [{}], { type: 'text', text: 'hi' }, { label: 'a', value: 'b' }, { role: 'bot' },
  ),
  fc.constantFrom(...literals),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 4 }),
  fc.anything({ maxDepth: 1 }),
);

type Key = string | number;
type Bag = Record<Key, unknown>;
const paths = (v: unknown, at: Key[] = []): Key[][] =>
  v && typeof v === 'object' ? [at, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, Array.isArray(v) ? Number(k) : k]))] : [at];
const isObj = (v: unknown): v is Bag => !!v && typeof v === 'object' && !Array.isArray(v);

/** A copy of `root` with the node at `path` replaced by `f(node)` (deleted when `f` returns `DROP`). */
const DROP = Symbol('drop');
function edit(root: unknown, path: Key[], f: (node: unknown) => unknown): unknown {
  if (!path.length) return f(root);
  const [k, ...rest] = path as [Key, ...Key[]];
  const copy = (Array.isArray(root) ? [...root] : { ...(root as Bag) }) as Bag;
  const next = edit(copy[k], rest, f);
  if (next !== DROP) copy[k] = next;
  else if (Array.isArray(copy)) copy.splice(k as number, 1);
  else delete copy[k];
  return copy;
}
/** `node` with a key added as an own, enumerable property (even `__proto__`, as JSON.parse does). */
const withKey = (node: unknown, key: string, value: unknown) =>
  isObj(node) ? Object.defineProperty({ ...node }, key, { value, enumerable: true, writable: true, configurable: true }) : node;
const cp = (s: string) => [...s].length;

/** One random change at one place. */
const damage = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('delete', 'replace', 'extra', 'stretch', 'grow', 'empty', 'nudge'),
  key: fc.oneof(fc.constantFrom(...keys, '__proto__', 'constructor'), fc.string({ maxLength: 6 })),
  value: junk,
  length: fc.constantFrom(...lengths),
  pad: fc.constantFrom('a', '😀', '\uD83D', ' '),
  step: fc.constantFrom(1, -1, 0.5, NaN, Infinity, MAX),
});
type Damage = typeof damage extends fc.Arbitrary<infer T> ? T : never;

function apply(root: unknown, d: Damage): unknown {
  const all = paths(root);
  return edit(root, all[d.at % all.length]!, (node) => {
    switch (d.kind) {
      case 'delete':
        return DROP;
      case 'replace':
        return d.value;
      case 'extra':
        return withKey(node, d.key, d.value);
      case 'stretch':
        if (typeof node === 'string') return node + d.pad.repeat(Math.max(0, d.length - cp(node)));
        if (Array.isArray(node) && node.length) return Array.from({ length: Math.min(d.length, 12) }, (_, i) => node[i % node.length]);
        return node;
      case 'grow':
        if (typeof node === 'string') return node + d.pad;
        if (Array.isArray(node) && node.length) return [...node, node[0]];
        return node;
      case 'empty':
        return typeof node === 'string' ? '' : Array.isArray(node) ? [] : isObj(node) ? {} : node;
      case 'nudge':
        return typeof node === 'number' ? node + d.step : node;
    }
  });
}

const damaged = <T>(valid: fc.Arbitrary<T>) =>
  fc.tuple(valid, fc.array(damage, { minLength: 1, maxLength: 3 })).map(([v, ds]) => ds.reduce<unknown>((x, d) => apply(x, d), v));

/** Inputs for a property: valid, damaged, and arbitrary values. */
const inputs = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 5, arbitrary: damaged(valid) }, { weight: 1, arbitrary: fc.anything() });

/** Every value one small step away from `root`: at each node, each change that could cross a rule. */
function* neighbours(root: unknown): Generator<unknown> {
  for (const path of paths(root)) {
    const at = (f: (node: unknown) => unknown) => edit(root, path, f);
    if (path.length) yield at(() => DROP);
    for (const v of [undefined, null, true, 1, -1, 0.5, 2 ** 53 + 2, -(2 ** 53) - 2, '', 'x', 'javascript:alert(1)', [], {}]) yield at(() => v);
    const node = path.reduce<unknown>((v, k) => (v as Bag)[k], root);
    if (typeof node === 'string') {
      for (const pad of ['a', '😀', ' ']) yield at(() => node + pad);
      yield at(() => ' ' + node);
      yield at(() => [...node].slice(1).join(''));
      if (literals.has(node)) for (const l of literals) yield at(() => l);
    }
    if (typeof node === 'number') for (const d of [1, -1, 0.5, NaN, Infinity, -Infinity]) yield at(() => node + d);
    if (Array.isArray(node) && node.length) yield at(() => [...node, node[0]]);
    if (isObj(node)) {
      yield at(() => Object.assign([], node));
      for (const k of keys) if (!(k in node)) yield at(() => withKey(node, k, 'x'));
    }
  }
}

describe('parseServerFrame', () => {
  test('accepts exactly what ServerFrame accepts, with the same output, over 20,000 frames', () => {
    const kinds = new Set<string>();
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(inputs(frame), (input) => {
        const z = ServerFrame.safeParse(input);
        const g = parseServerFrame(input);
        expect(g !== undefined).toBe(z.success);
        if (!z.success) return void refused++;
        accepted++;
        expect(g).toStrictEqual(z.data);
        const f = z.data;
        kinds.add(f.t === 'msg' ? `msg:${f.body.type}` : f.t === 'event' ? `event:${f.event.type}` : f.t);
      }),
      { numRuns: 20_000 },
    );
    // Every frame, body and event kind was accepted at least once, and both answers were common.
    expect(kinds.size).toBe(Object.keys(frames).length - 2 + Object.keys(bodies).length + events.length);
    expect(accepted).toBeGreaterThan(4_000);
    expect(refused).toBeGreaterThan(4_000);
  });

  test('agrees with ServerFrame on every one-step change of 200 valid frames', () => {
    let checked = 0;
    fc.assert(
      fc.property(frame, (valid) => {
        for (const input of neighbours(valid)) {
          const z = ServerFrame.safeParse(input);
          const g = parseServerFrame(input);
          expect(g !== undefined).toBe(z.success);
          if (z.success) expect(g).toStrictEqual(z.data);
          checked++;
        }
      }),
      { numRuns: 200 },
    );
    expect(checked).toBeGreaterThan(20_000);
  });

  test('refuses javascript: links, over-long text and fractional sequence numbers', () => {
    const msg = (body: object, extra: object = {}) => ({ t: 'msg', seq: 3, id: 'm1', ts: 1, from: { role: 'bot' }, body, ...extra });
    const card = { type: 'card', kind: 'product', title: 'Shoe' };
    expect(parseServerFrame(msg({ ...card, url: 'https://shop.example/shoe' }))).toBeDefined();
    expect(parseServerFrame(msg({ ...card, url: 'javascript:alert(1)' }))).toBeUndefined();
    expect(parseServerFrame(msg({ ...card, actions: [{ label: 'Buy', url: 'data:text/html,x' }] }))).toBeUndefined();
    expect(parseServerFrame(msg({ type: 'text', text: 'x'.repeat(L.maxTextLength) }))).toBeDefined();
    expect(parseServerFrame(msg({ type: 'text', text: 'x'.repeat(L.maxTextLength + 1) }))).toBeUndefined();
    expect(parseServerFrame(msg({ type: 'text', text: 'x' }, { seq: 1.5 }))).toBeUndefined();
    expect(parseServerFrame(msg({ type: 'text', text: 'x' }, { seq: -1 }))).toBeUndefined();
    expect(parseServerFrame(msg({ type: 'text', text: 'x' }, { t: 'send' }))).toBeUndefined();
  });

  test('a conversations frame lists at most MAX_PAST, a history page holds at most PAST_PAGE entries', () => {
    const item = { id: 'c1', createdAt: 1, closed: true, lastSeq: 3, preview: 'p'.repeat(PREVIEW_LENGTH) };
    const entry = { kind: 'event', seq: 1, id: 'e1', ts: 1, event: { type: 'closed' } };
    const cases = [
      { frame: { t: 'conversations', id: 'q1', items: Array(MAX_PAST).fill(item) }, ok: true },
      { frame: { t: 'conversations', id: 'q1', items: Array(MAX_PAST + 1).fill(item) }, ok: false },
      { frame: { t: 'conversations', id: 'q1', items: [{ ...item, preview: item.preview + 'p' }] }, ok: false },
      { frame: { t: 'history', id: 'q1', conversationId: 'c1', entries: Array(PAST_PAGE).fill(entry), hasMore: true }, ok: true },
      { frame: { t: 'history', id: 'q1', conversationId: 'c1', entries: Array(PAST_PAGE + 1).fill(entry), hasMore: true }, ok: false },
      { frame: { t: 'history', id: 'q1', conversationId: 'c1', entries: [{ ...entry, kind: 'msg' }], hasMore: false }, ok: false },
    ];
    for (const { frame, ok } of cases) {
      expect(ServerFrame.safeParse(frame).success).toBe(ok);
      expect(parseServerFrame(frame) !== undefined).toBe(ok);
    }
  });

  test('counts text length in code points, as the schema does', () => {
    const text = '😀'.repeat(L.maxTextLength);
    const frame = { t: 'msg', seq: 1, id: 'm1', ts: 1, from: { role: 'agent' }, body: { type: 'text', text } };
    expect(ServerFrame.safeParse(frame).success).toBe(true);
    expect(parseServerFrame(frame)).toEqual(frame);
  });

  test('drops unknown keys at every level', () => {
    const frame = {
      t: 'event',
      ts: 5,
      admin: true,
      event: { type: 'agent_joined', agent: { role: 'agent', name: 'Mia', html: '<b>' }, extra: 1 },
    };
    expect(parseServerFrame(frame)).toStrictEqual({ t: 'event', ts: 5, event: { type: 'agent_joined', agent: { role: 'agent', name: 'Mia' } } });
  });

  test('decodeServerFrame decodes JSON text with the guard', () => {
    expect(decodeServerFrame('{"t":"pong","ts":7,"x":1}')).toEqual({ ok: true, frame: { t: 'pong', ts: 7 } });
    expect(decodeServerFrame('{"t":"pong","ts":1e999}')).toMatchObject({ ok: false, code: 'BAD_FRAME' });
    expect(decodeServerFrame('{"t":"pong"')).toMatchObject({ ok: false, code: 'BAD_JSON' });
  });
});

describe('isVisitorBody', () => {
  test('accepts exactly what VisitorBody accepts, over 10,000 bodies', () => {
    let accepted = 0;
    fc.assert(
      fc.property(inputs(fc.oneof(visitorBody, body)), (input) => {
        const ok = VisitorBody.safeParse(input).success;
        expect(isVisitorBody(input)).toBe(ok);
        if (ok) accepted++;
      }),
      { numRuns: 10_000 },
    );
    expect(accepted).toBeGreaterThan(2_000);
  });

  test('refuses bodies only the backend may send', () => {
    expect(isVisitorBody({ type: 'text', text: 'hi' })).toBe(true);
    expect(isVisitorBody({ type: 'file', name: 'a.png', size: 1, mime: 'image/png', url: 'https://files.shop.example/a.png' })).toBe(true);
    expect(isVisitorBody({ type: 'file', name: 'a.png', size: 1, mime: 'image/png', url: 'javascript:alert(1)' })).toBe(false);
    expect(isVisitorBody({ type: 'card', kind: 'product', title: 'Shoe' })).toBe(false);
    expect(isVisitorBody({ type: 'rating', score: 6 })).toBe(false);
  });
});
