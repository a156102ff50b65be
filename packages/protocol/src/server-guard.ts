/**
 * The relay → widget frames, checked without zod.
 *
 * The zod schemas (frames.ts, messages.ts, events.ts) are the source of truth: the relay
 * validates with them. This file repeats the same rules with the combinators of
 * guard.ts only so that the browser bundle, which must check every frame it receives,
 * does not ship zod. server-guard.test.ts is a property test that keeps the two equal:
 * same accepted inputs, same output. Change a schema, change this file in the same commit.
 */
import type { ServerFrame } from './frames.js';
import { arr, bool, int, num, obj, oneOf, opt, parse, chars, union, type Infer } from './guard.js';
import { LIMITS as L } from './limits.js';
import type { VisitorBody } from './messages.js';
import { EMAIL_RE, HTTP_URL_RE, ID_RE } from './patterns.js';
import { MAX_UPLOAD_PAIRS, MAX_UPLOAD_TYPES, MAX_UPLOAD_VALUE } from './uploads.js';
import { MAX_PAST, PAST_PAGE, PREVIEW_LENGTH } from './past.js';

const S = L.maxShortLength;
const text = chars(L.maxTextLength, 1);
const label = chars(L.maxLabelLength, 1);
const value = chars(L.maxValueLength, 1);
const id = chars(L.maxIdLength, 1, ID_RE);
const url = chars(L.maxUrlLength, 0, HTTP_URL_RE);
const seq = int();

const sender = obj({
  role: oneOf('visitor', 'bot', 'agent', 'system'),
  id: opt(id),
  name: opt(chars(S, 1)),
  avatarUrl: opt(url),
  ai: opt(bool),
});
const button = obj({ label, value });

const sources = opt(arr(obj({ title: chars(S, 1), url }), L.maxSources));
const visitorText = obj({ type: oneOf('text'), text });
const postbackBody = obj({ type: oneOf('postback'), value, label });
const ratingBody = obj({ type: oneOf('rating'), score: int(1, 5), comment: opt(chars(L.maxCommentLength)) });
const contactBody = obj({ type: oneOf('contact'), email: chars(S, 0, EMAIL_RE), text });
const fileBody = obj({ type: oneOf('file'), name: chars(S, 1), size: int(), mime: chars(S, 1), url });

const visitorBody = union(visitorText, postbackBody, ratingBody, contactBody, fileBody);

const body = union(
  obj({ type: oneOf('text'), text, sources }),
  obj({ type: oneOf('quick_replies'), text, replies: arr(button, L.maxQuickReplies, 1), sources }),
  obj({
    type: oneOf('card'),
    kind: oneOf('product', 'order'),
    title: chars(S, 1),
    subtitle: opt(chars(S * 2)),
    price: opt(chars(S)),
    imageUrl: opt(url),
    url: opt(url),
    actions: opt(arr(obj({ label, value: opt(value), url: opt(url) }), L.maxCardActions)),
  }),
  postbackBody,
  ratingBody,
  fileBody,
  contactBody,
);
const pairs = opt(arr(obj({ name: chars(S, 1), value: chars(MAX_UPLOAD_VALUE) }), MAX_UPLOAD_PAIRS));

const event = union(
  obj({ type: oneOf('typing'), on: bool, from: opt(sender) }),
  obj({ type: oneOf('read'), seq, from: opt(sender) }),
  obj({ type: oneOf('queue'), position: int(0, 100_000), etaSec: opt(int()) }),
  obj({ type: oneOf('agent_joined'), agent: sender }),
  obj({ type: oneOf('agent_left'), agent: sender }),
  obj({ type: oneOf('handoff'), state: oneOf('requested', 'accepted') }),
  obj({ type: oneOf('rating_request'), text: opt(chars(L.maxTextLength)) }),
  obj({ type: oneOf('availability'), online: bool }),
  obj({ type: oneOf('closed'), reason: opt(chars(S)) }),
);

const serverFrame = union(
  obj({
    t: oneOf('welcome'),
    v: int(-Infinity),
    conversationId: id,
    visitorId: id,
    token: chars(1024, 1),
    lastSeq: seq,
    reset: opt(bool),
    greeting: obj({ text, quickReplies: arr(button, L.maxQuickReplies) }),
    site: obj({ name: chars(S, 1) }),
    online: bool,
    identity: opt(obj({ userId: chars(S, 1), verified: bool })),
    limits: obj({ maxFrameBytes: num, maxTextLength: num, maxQuickReplies: num }),
  }),
  obj({ t: oneOf('ack'), id, seq, ts: seq }),
  obj({ t: oneOf('msg'), seq, id, ts: seq, from: sender, body, incomplete: opt(bool) }),
  obj({ t: oneOf('event'), seq: opt(seq), id: opt(id), ts: seq, event }),
  obj({ t: oneOf('error'), code: chars(64, 1), message: chars(S * 2), id: opt(id) }),
  obj({ t: oneOf('pong'), ts: seq }),
  obj({ t: oneOf('draft'), id, ts: seq, from: sender, offset: int(0, L.maxTextLength), text: chars(L.maxTextLength) }),
  obj({
    t: oneOf('upload'),
    id,
    url,
    method: oneOf('PUT', 'POST'),
    fields: pairs,
    headers: pairs,
    fileUrl: url,
    maxBytes: int(),
    types: arr(chars(S, 1), MAX_UPLOAD_TYPES),
  }),
  obj({
    t: oneOf('conversations'),
    id,
    items: arr(obj({ id, createdAt: seq, closed: bool, lastSeq: seq, preview: opt(chars(PREVIEW_LENGTH)) }), MAX_PAST),
  }),
  obj({
    t: oneOf('history'),
    id,
    conversationId: id,
    entries: arr(
      union(
        obj({ kind: oneOf('msg'), seq, id, ts: seq, from: sender, body, incomplete: opt(bool) }),
        obj({ kind: oneOf('event'), seq, id, ts: seq, event }),
      ),
      PAST_PAGE,
    ),
    hasMore: bool,
  }),
);

// The guards' types must be identical to the schemas' types: a key added to a schema and not here fails to compile.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
/** @public A compile-time check: it fails to compile when the guard and the schema differ. */
export type GuardTypesMatchSchemas = [
  Assert<Same<Infer<typeof serverFrame>, ServerFrame>>,
  Assert<Same<Infer<typeof visitorBody>, VisitorBody>>,
];

/** A relay → widget frame, checked and stripped of unknown keys exactly as `ServerFrame.safeParse` would; `undefined` when invalid. */
export const parseServerFrame = (value: unknown): ServerFrame | undefined => parse(serverFrame, value);

/** True when a visitor may send this body (the same rules as the `VisitorBody` schema). */
export const isVisitorBody = (value: unknown): value is VisitorBody => parse(visitorBody, value) !== undefined;
