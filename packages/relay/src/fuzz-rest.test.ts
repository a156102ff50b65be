// Mutated REST requests on every backend route and the site config, and mutated frames on the
// backend socket. The contract: never a 5xx, every refusal is exactly {error:{code,message}} with a
// registry code and that code's status, no refusal echoes its input (each request carries a
// marker), and no site reads or writes another site's conversations.
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLOSE, ERRORS, ERROR_CODES, LIMITS, decodeBackendServerFrame, isErrorCode, type BackendServerFrame, type LogEntry } from '@parley/protocol';
import { API_SECRET, API_SECRET_2, ORIGIN, TestClient, startBackend, startRelay, testConfig } from './test-support/harness.js';

let relay: Awaited<ReturnType<typeof startRelay>>;
let backend: Awaited<ReturnType<typeof startBackend>>;
/** A pk_test and a pk_other conversation, each stored with one visitor message only its site may read. */
const conv = { test: '', other: '' };
const PRIVATE = { test: 'private-to-pk-test-7f3a', other: 'private-to-pk-other-9c1e' };
/** Messages each conversation must hold: the visitor's, then every backend write that was accepted. */
const accepted: Record<'test' | 'other', string[]> = { test: ['visitor-hi'], other: ['visitor-hi'] };

beforeAll(async () => {
  backend = await startBackend();
  const base = testConfig(backend.url);
  // pk_other takes webhooks only, so the backend socket below is pk_test's alone.
  relay = await startRelay(
    { ...base, sites: base.sites.map((s) => (s.siteKey === 'pk_other' ? { ...s, backendSocket: 'off' as const } : s)) },
    {
      limits: {
        restRateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
        authFailuresPerIp: { perSecond: 1_000_000, burst: 1_000_000 },
        maxHttpConnectionsPerIp: 0,
      },
    },
  );
  for (const site of ['test', 'other'] as const) {
    const c = await TestClient.open(relay.wsUrl, ORIGIN);
    c.send({ t: 'hello', v: 1, siteKey: site === 'test' ? 'pk_test' : 'pk_other' });
    conv[site] = (await c.take('welcome')).conversationId;
    c.send({ t: 'send', id: 'visitor-hi', body: { type: 'text', text: PRIVATE[site] } });
    await c.take('ack');
    c.close();
  }
});

afterAll(async () => {
  await relay.close();
  await backend.close();
});

let markers = 0;
const newMarker = () => `ZQ${(markers++).toString(36)}QZ`;

/** The message ids a conversation holds, read with its own site's secret. */
async function messageIds(site: 'test' | 'other'): Promise<string[]> {
  const ids: string[] = [];
  for (let after = 0; ; ) {
    const log = await relay.api('GET', `/v1/conversations/${conv[site]}/messages?limit=200&after=${after}`, undefined, site === 'test' ? API_SECRET : API_SECRET_2);
    expect(log.status).toBe(200);
    const entries = log.json.entries as LogEntry[];
    ids.push(...entries.filter((e) => e.kind === 'msg').map((e) => e.id));
    if (!log.json.hasMore) return ids;
    after = entries.at(-1)!.seq;
  }
}

// ---- requests ----

type Who = 'test' | 'other' | 'wrong' | 'none' | 'malformed';
interface Req {
  method: string;
  path: string;
  query: Array<[string, string]>;
  who: Who;
  contentType: string | undefined;
  body: string | undefined;
  origin: string | undefined;
  /** Where a write would land, when it is one. */
  target: 'test' | 'other' | undefined;
  /** The message id a valid write carries. */
  writeId: string | undefined;
  route: string;
  /** Put in the request wherever input can go; no refusal may carry it back. */
  marker: string;
}

const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<'test' | 'other'>('test', 'test', 'other').map((site) => ({ site, raw: () => conv[site] })) },
  fc.constantFrom(
    (m: string) => `c_${m}`,
    (m: string) => `${'x'.repeat(300)}${m}`,
    (m: string) => `%00${m}`,
    (m: string) => `..%2F..%2F${m}`,
    (m: string) => encodeURIComponent(`<script>${m}</script>`),
    (m: string) => `${m}%zz`,
    (m: string) => `${m}%C0%AF`,
  ).map((f) => ({ site: undefined, raw: f })),
);
/** `common` `weight` times out of `weight + 1`, else one of `rare`. */
const weighted = <T>(common: T, weight: number, rare: fc.Arbitrary<T>) => fc.oneof({ weight, arbitrary: fc.constant(common) }, { weight: 1, arbitrary: rare });

const text = (m: string) => fc.constantFrom(`hello ${m}`, `${m} ${'y'.repeat(LIMITS.maxTextLength - 20)}`);
/** Bodies of the message route: valid, broken, or not JSON at all. */
const messageBody = (m: string, id: string) =>
  fc.oneof(
    // Over the 64 KiB body limit.
    fc.constant({ valid: false, body: `{"id":"${id}","body":{"type":"text","text":"${m}${'x'.repeat(LIMITS.maxBodyBytes)}"}}` }),
    { weight: 3, arbitrary: text(m).map((t) => ({ valid: true, body: JSON.stringify({ id, body: { type: 'text', text: t } }) })) },
    fc.constant({ valid: true, body: JSON.stringify({ id, from: { role: 'agent', name: 'Mia' }, body: { type: 'card', kind: 'product', title: `Shoe ${m}`, price: '€1' }, [`x_${m}`]: m }) }),
    fc.constantFrom<unknown>(
      { id, body: { type: 'text', text: '' } },
      { id, body: { type: 'text', text: 'x'.repeat(LIMITS.maxTextLength + 1) + m } },
      { id: `${m} bad id`, body: { type: 'text', text: m } },
      { id, body: { type: 'postback', value: m, label: m } },
      { id, body: { type: 'rating', score: 5 } },
      { id, from: { role: 'visitor' }, body: { type: 'text', text: m } },
      { body: { type: 'text', text: m } },
      { id },
      { id, body: m },
      { id, body: { type: 'quick_replies', text: m, replies: [] } },
      { id, body: { type: 'card', kind: m, title: m } },
      { id, body: { type: 'file', name: m, size: -1, mime: 'x', url: 'x' } },
      [m],
      m,
      null,
    ).map((b) => ({ valid: false, body: JSON.stringify(b) })),
    fc.constantFrom(
      `{"id":"${m}"`,
      `{"__proto__":{"polluted":"${m}"},"id":"${id}","body":{"type":"text","text":"x"}}`,
      `{"constructor":{"prototype":{"polluted":"${m}"}},"id":"${id}","body":{"type":"text","text":"x"}}`,
      `${'['.repeat(5000)}"${m}"${']'.repeat(5000)}`,
      '',
      `\u0000${m}`,
    ).map((b) => ({ valid: false, body: b })),
    fc.json({ maxDepth: 3 }).map((b) => ({ valid: false, body: b })),
  );

const eventBody = (m: string, id: string) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<unknown>(
      { id, event: { type: 'queue', position: 3 } },
      { event: { type: 'typing', on: true } },
      { id, event: { type: 'agent_joined', agent: { role: 'agent', name: m } } },
    ).map((b) => ({ valid: true, body: JSON.stringify(b) })) },
    fc.constantFrom<unknown>(
      { id, event: { type: m } },
      { id, event: { type: 'queue', position: -1 } },
      { id, event: { type: 'closed', reason: m.repeat(100) } },
      { id: m + '!', event: { type: 'typing', on: true } },
      { event: null },
      {},
    ).map((b) => ({ valid: false, body: JSON.stringify(b) })),
    fc.json({ maxDepth: 2 }).map((b) => ({ valid: false, body: b })),
  );

const queryArb = (m: string) =>
  fc.array(
    fc.tuple(
      fc.constantFrom('after', 'limit', 'cursor', m, 'limit'),
      fc.oneof(
        fc.constantFrom('0', '1', '200', '201', '9999', '99999', '-1', '1e3', '0x10', '', ' 1', '1.5', '999999999999999', '9999999999999999', m, 'eyJ4IjoxfQ', `${m}==`),
        fc.string({ maxLength: 20 }),
      ),
    ),
    { maxLength: 3 },
  );

const reqArb: fc.Arbitrary<Req> = fc.nat().chain(() => {
  const m = newMarker();
  const writeId = `w_${m}`;
  return fc
    .record({
      route: fc.constantFrom('messages:POST', 'messages:GET', 'events:POST', 'list', 'availability', 'dead-letters', 'config', 'unknown'),
      id: idArb,
      // Mostly pk_test's secret, so most requests get past authentication.
      who: fc.constantFrom<Who>('test', 'test', 'test', 'other', 'wrong', 'none', 'malformed'),
      contentType: weighted<string | undefined>('application/json', 3, fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', `application/${m}`)),
      query: weighted<Array<[string, string]>>([], 1, queryArb(m)),
      odd: weighted<string | undefined>(undefined, 4, fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD')),
      messageBody: messageBody(m, writeId),
      eventBody: eventBody(m, writeId),
      availability: fc.constantFrom('{"online":true}', '{"online":"yes"}', `{"online":false,"${m}":1}`, `"${m}"`, '{}'),
      siteKey: fc.constantFrom('pk_test', 'pk_other', m, `${m}%00`, 'x'.repeat(300)),
      origin: fc.constantFrom(undefined, ORIGIN, `https://${m}.example`, m),
    })
    .map((r): Req => {
      const id = r.id.raw(m);
      let method = 'GET';
      let path = '';
      let body: { valid: boolean; body: string } | undefined;
      switch (r.route) {
        case 'messages:POST':
          method = 'POST';
          path = `/v1/conversations/${id}/messages`;
          body = r.messageBody;
          break;
        case 'messages:GET':
          path = `/v1/conversations/${id}/messages`;
          break;
        case 'events:POST':
          method = 'POST';
          path = `/v1/conversations/${id}/events`;
          body = r.eventBody;
          break;
        case 'list':
          path = '/v1/conversations';
          break;
        case 'availability':
          method = 'POST';
          path = '/v1/availability';
          body = { valid: false, body: r.availability };
          break;
        case 'dead-letters':
          path = '/v1/dead-letters';
          break;
        case 'config':
          path = `/v1/sites/${r.siteKey}/config`;
          break;
        case 'unknown':
          path = `/v1/${m}/${id}`;
          break;
      }
      // Now and then the wrong method for the route.
      if (r.odd) method = r.odd;
      const sendsBody = !['GET', 'HEAD'].includes(method) && body !== undefined;
      const writes = r.route === 'messages:POST' && method === 'POST';
      return {
        method,
        path,
        query: r.query,
        who: r.who,
        contentType: sendsBody ? r.contentType : undefined,
        body: sendsBody ? body!.body : undefined,
        origin: r.origin,
        target: writes ? r.id.site : undefined,
        writeId: writes && body!.valid ? writeId : undefined,
        route: r.route,
        marker: m,
      };
    });
});

function authHeader(who: Who, marker: string): Record<string, string> {
  switch (who) {
    case 'test':
      return { authorization: `Bearer ${API_SECRET}` };
    case 'other':
      return { authorization: `Bearer ${API_SECRET_2}` };
    case 'wrong':
      return { authorization: `Bearer ${marker}-not-a-secret` };
    case 'malformed':
      return { authorization: `Basic ${marker}` };
    case 'none':
      return {};
  }
}

describe('mutated REST requests', () => {
  test('never a 5xx; every refusal is the registry envelope without the input; no site sees another site', async () => {
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(reqArb, async (req) => {
        const m = req.marker;
        const qs = req.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const headers: Record<string, string> = { ...authHeader(req.who, m) };
        if (req.contentType) headers['content-type'] = req.contentType;
        if (req.origin) headers.origin = req.origin;
        const res = await fetch(`${relay.base}${req.path}${qs ? `?${qs}` : ''}`, { method: req.method, headers, ...(req.body !== undefined ? { body: req.body } : {}) });
        const text = await res.text();
        const what = `${req.method} ${req.path.slice(0, 60)} as ${req.who} → ${res.status} ${text.slice(0, 200)}`;
        statuses.set(`${req.route} ${res.status}`, (statuses.get(`${req.route} ${res.status}`) ?? 0) + 1);

        expect(res.status, what).toBeLessThan(500);
        if (res.status >= 400 && req.method !== 'HEAD') {
          const json = JSON.parse(text);
          expect(json, what).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
          expect(isErrorCode(json.error.code), what).toBe(true);
          expect(ERRORS[json.error.code as keyof typeof ERRORS].status, what).toBe(res.status);
          expect(res.headers.get('content-type'), what).toMatch(/^application\/json/);
        }
        if (res.status >= 400) expect(text, what).not.toContain(m);
        // A request that proves no site reads nothing, and one site never reads the other's conversation.
        if (req.who !== 'test') {
          expect(text, what).not.toContain(conv.test);
          expect(text, what).not.toContain(PRIVATE.test);
        }
        if (req.who !== 'other') {
          expect(text, what).not.toContain(conv.other);
          expect(text, what).not.toContain(PRIVATE.other);
        }
        if (['wrong', 'none', 'malformed'].includes(req.who) && req.route !== 'config' && req.route !== 'unknown') {
          // 401, or a refusal of the request itself (a malformed path, an unrouted method, an oversize body) that reveals nothing.
          expect([400, 401, 404, 413], what).toContain(res.status);
        }
        // A write lands only in the conversation of the secret's own site.
        if (req.target && res.status >= 200 && res.status < 300) {
          expect(req.who, what).toBe(req.target);
          expect(req.writeId, what).toBeDefined();
          accepted[req.target].push(req.writeId!);
        }
        // And a valid write of its own is not refused.
        if (req.target && req.writeId && req.who === req.target && req.contentType === 'application/json') expect(res.status, what).toBeLessThan(300);
      }),
      { numRuns: 2000, seed: 14_020 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await fetch(`${relay.base}/healthz`)).status).toBe(200);
    // Every route was reached, and answered both ways.
    for (const route of ['messages:POST 201', 'messages:POST 400', 'messages:POST 404', 'messages:POST 401', 'messages:POST 413', 'messages:GET 200', 'messages:GET 400', 'events:POST 200', 'events:POST 400', 'list 200', 'list 400', 'availability 200', 'availability 400', 'dead-letters 200', 'config 200', 'config 404', 'unknown 404']) {
      expect([...statuses.keys()], JSON.stringify([...statuses].sort())).toContain(route);
    }
    expect(await messageIds('test')).toEqual(accepted.test);
    expect(await messageIds('other')).toEqual(accepted.other);
  }, 90_000);
});

// ---- the backend socket ----

/** A backend socket client recording every frame. */
async function backendSocket(secret = API_SECRET) {
  const frames: BackendServerFrame[] = [];
  const ws = new WebSocket(`${relay.base.replace('http', 'ws')}/v1/backend`, { headers: { authorization: `Bearer ${secret}` } });
  let closed: number | undefined;
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  ws.on('message', (data) => {
    const r = decodeBackendServerFrame(data.toString());
    if (!r.ok) throw new Error(`relay sent an invalid backend frame: ${r.message}`);
    frames.push(r.frame);
    wake();
  });
  ws.on('error', () => {});
  ws.on('close', (code) => ((closed = code), wake()));
  /** Resolves once `ok()` holds, checked on every frame and on close; throws after `timeoutMs`. */
  const until = (ok: () => boolean, timeoutMs = 5000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!ok()) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => (waiters.delete(check), reject(new Error(`backend socket: timed out; got ${JSON.stringify(frames).slice(0, 2000)}`))), timeoutMs);
      waiters.add(check);
      check();
    });
  await until(() => frames.some((f) => f.t === 'ready'));
  return { ws, frames, closed: () => closed, until };
}

/** A frame for the backend socket and its answer: an ack, an error code (named by `id` when it has one), or nothing. */
type BackendOp = { frame: string | Buffer; id?: string; expect: 'ack' | 'NOT_FOUND' | 'BAD_FRAME' | 'BAD_JSON' | 'BAD_BYTES' | 'none'; target?: 'test' };

let frameIds = 0;
const backendOp: fc.Arbitrary<BackendOp> = fc.nat().chain(() => {
  const id = `b${(frameIds++).toString(36)}`;
  const m = newMarker();
  const frame = (f: unknown) => JSON.stringify(f);
  return fc.oneof(
    fc.constant<BackendOp>({ frame: frame({ t: 'send', id, conversationId: conv.test, body: { type: 'text', text: `to test ${m}` } }), id, expect: 'ack', target: 'test' }),
    fc.constant<BackendOp>({ frame: frame({ t: 'post', id, conversationId: conv.test, event: { type: 'queue', position: 2 } }), id, expect: 'ack' }),
    // Another site's conversation answers as an unknown one does.
    fc.constant<BackendOp>({ frame: frame({ t: 'send', id, conversationId: conv.other, body: { type: 'text', text: m } }), id, expect: 'NOT_FOUND' }),
    fc.constant<BackendOp>({ frame: frame({ t: 'post', id, conversationId: conv.other, event: { type: 'closed' } }), id, expect: 'NOT_FOUND' }),
    fc.constant<BackendOp>({ frame: frame({ t: 'post', id, conversationId: `c_${m}`, event: { type: 'queue', position: 1 } }), id, expect: 'NOT_FOUND' }),
    // An ack for an event that was never sent is ignored.
    fc.constant<BackendOp>({ frame: frame({ t: 'ack', id: `evt_${m}` }), expect: 'none' }),
    fc
      .constantFrom<unknown>(
        { t: 'send', id, conversationId: conv.test, body: { type: 'text', text: '' } },
        { t: 'send', id, conversationId: conv.test, body: { type: 'rating', score: 5 } },
        { t: 'send', id, conversationId: conv.test },
        { t: 'post', id, conversationId: conv.test, event: { type: m } },
        { t: m, id },
        { t: 'send', id, conversationId: `${m}!`, body: { type: 'text', text: 'x' } },
        { t: 'ack', id, messages: 'nope' },
      )
      .map((f): BackendOp => ({ frame: frame(f), id, expect: 'BAD_FRAME' })),
    fc.constantFrom(`{"t":"send","id":"${m}`, `${m}`, '').map((f): BackendOp => ({ frame: f, expect: 'BAD_JSON' })),
    fc.constantFrom('null', '[]', `"${m}"`, '42').map((f): BackendOp => ({ frame: f, expect: 'BAD_FRAME' })),
    // Random bytes in a binary frame: not a frame, whichever way it fails.
    fc.uint8Array({ minLength: 1, maxLength: 32 }).map((b): BackendOp => ({ frame: Buffer.from(b), expect: 'BAD_BYTES' })),
  );
});

describe('mutated backend socket frames', () => {
  test('every frame with an id gets one answer naming it; bad frames get registry codes; other sites are untouched', async () => {
    const before = await messageIds('other');
    await fc.assert(
      fc.asyncProperty(fc.array(backendOp, { minLength: 1, maxLength: 30, size: 'max' }), async (ops) => {
        // Fewer bad frames than maxInvalidFrames: the socket stays open and every answer is checked.
        const bad = ops.filter((o) => o.expect === 'BAD_FRAME' || o.expect === 'BAD_JSON' || o.expect === 'BAD_BYTES');
        fc.pre(bad.length < 10);
        const s = await backendSocket();
        try {
          for (const o of ops) s.ws.send(o.frame, { binary: Buffer.isBuffer(o.frame) });
          const withId = ops.filter((o) => o.id && o.expect !== 'none');
          const answered = () => s.frames.filter((f) => f.t === 'ack' || f.t === 'error');
          await s.until(() => answered().length >= withId.length + bad.filter((o) => !o.id).length);
          for (const o of withId) {
            const answers = answered().filter((f) => 'id' in f && f.id === o.id);
            expect(answers, JSON.stringify(o.frame).slice(0, 200)).toHaveLength(1);
            const a = answers[0]!;
            if (o.expect === 'ack') expect(a.t).toBe('ack');
            else expect(a).toMatchObject({ t: 'error', code: o.expect });
            if (o.expect === 'ack' && o.target) accepted.test.push(o.id!);
          }
          // Errors naming no id: one per bad frame without one; random bytes get BAD_JSON or BAD_FRAME.
          const idless = answered().flatMap((f) => (f.t === 'error' && !f.id ? [f.code] : []));
          const exact = bad.filter((o) => !o.id && o.expect !== 'BAD_BYTES').map((o) => o.expect);
          const rest = [...idless];
          for (const code of exact) {
            expect(rest).toContain(code);
            rest.splice(rest.indexOf(code), 1);
          }
          expect(rest).toHaveLength(bad.filter((o) => o.expect === 'BAD_BYTES').length);
          for (const code of rest) expect(['BAD_JSON', 'BAD_FRAME']).toContain(code);
          for (const f of answered()) if (f.t === 'error') expect(ERROR_CODES).toContain(f.code);
          await new Promise((r) => setTimeout(r, 5));
          expect(s.closed()).toBeUndefined();
        } finally {
          s.ws.close();
        }
      }),
      { numRuns: 300, seed: 14_021 },
    );
    expect(await messageIds('test')).toEqual(accepted.test);
    expect(await messageIds('other')).toEqual(before);
  }, 60_000);

  test('the maxInvalidFrames-th bad frame closes the socket with CLOSE.PROTOCOL_ERROR; a frame over 64 KiB with CLOSE.FRAME_TOO_LARGE', async () => {
    const s = await backendSocket();
    for (let i = 0; i < 10; i++) s.ws.send(`nope ${i}`);
    await s.until(() => s.closed() !== undefined);
    expect(s.closed()).toBe(CLOSE.PROTOCOL_ERROR);
    expect(s.frames.filter((f) => f.t === 'error').map((f) => (f as { code: string }).code)).toEqual(Array(10).fill('BAD_JSON'));

    const big = await backendSocket();
    big.ws.send(JSON.stringify({ t: 'send', id: 'big', conversationId: conv.test, body: { type: 'text', text: 'x'.repeat(LIMITS.maxBodyBytes) } }));
    await big.until(() => big.closed() !== undefined);
    expect(big.closed()).toBe(CLOSE.FRAME_TOO_LARGE);
    // The frame is not read, so its id is not named.
    expect(big.frames.filter((f) => f.t === 'error')).toEqual([{ t: 'error', code: 'TOO_LARGE', message: expect.any(String) }]);
    expect(await messageIds('test')).toEqual(accepted.test);
  });

  test('the backend socket upgrade refuses wrong secrets with the 401 envelope and another site in webhook mode with 403', async () => {
    for (const [secret, status, code] of [
      [`${newMarker()}-wrong`, 401, 'UNAUTHORIZED'],
      [API_SECRET_2, 403, 'BACKEND_SOCKET_OFF'],
    ] as const) {
      const answer = await new Promise<{ status: number; body: string }>((resolve) => {
        const ws = new WebSocket(`${relay.base.replace('http', 'ws')}/v1/backend`, { headers: { authorization: `Bearer ${secret}` } });
        ws.on('error', () => {});
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
      });
      expect(answer.status).toBe(status);
      expect(JSON.parse(answer.body)).toEqual({ error: { code, message: expect.any(String) } });
      expect(answer.body).not.toContain(secret);
    }
  });
});
