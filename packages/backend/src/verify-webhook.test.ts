import { signWebhook, type WebhookEvent } from '@parley/protocol';
import { describe, expect, test } from 'vitest';
import { WebhookError } from './errors.js';
import { verifyWebhook, verifyWebhookOrThrow, verifyWebhooks } from './verify-webhook.js';
import { bodyOf, hasMessage, isEventType, type ActivityWebhookEvent, type FeedbackWebhookEvent, type IdentifiedWebhookEvent } from './webhook-events.js';

const secret = 'whsec_' + Buffer.from('parley-backend-test-secret-0123456').toString('base64');
const oldSecret = 'whsec_' + Buffer.from('parley-backend-old-secret-98765432').toString('base64');
const now = 1_800_000_000_000;
const ts = Math.floor(now / 1000);

const event: WebhookEvent = {
  id: 'evt_abc123',
  type: 'message.created',
  createdAt: now,
  siteKey: 'pk_demo',
  conversationId: 'c_1',
  visitor: { id: 'v_1', identity: { userId: 'u_42', verified: true } },
  data: { message: { seq: 3, id: 'm_1', ts: now, from: { role: 'visitor' }, body: { type: 'text', text: 'Where is my order?' } } },
};

async function signed(body: string, options: { id?: string; timestamp?: number; key?: string } = {}) {
  const id = options.id ?? event.id;
  const timestamp = options.timestamp ?? ts;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': await signWebhook(options.key ?? secret, id, timestamp, body),
    'content-type': 'application/json',
  };
}

describe('verifyWebhook', () => {
  test('accepts a correctly signed delivery and returns the typed event', async () => {
    const body = JSON.stringify(event);
    const result = await verifyWebhook(secret, await signed(body), body, { now });
    expect(result).toEqual({ ok: true, event });
  });

  test('accepts Fetch Headers and a Buffer body', async () => {
    const body = JSON.stringify(event);
    const headers = new Headers(await signed(body));
    const result = await verifyWebhook(secret, headers, Buffer.from(body), { now });
    expect(result.ok).toBe(true);
  });

  test('reads header names case-insensitively from a plain object', async () => {
    const body = JSON.stringify(event);
    const h = await signed(body);
    const headers = { 'Webhook-Id': h['webhook-id'], 'WEBHOOK-TIMESTAMP': h['webhook-timestamp'], 'Webhook-Signature': h['webhook-signature'] };
    expect((await verifyWebhook(secret, headers, body, { now })).ok).toBe(true);
  });

  test('refuses a tampered body with WEBHOOK_BAD_SIGNATURE and status 401', async () => {
    const body = JSON.stringify(event);
    const tampered = body.replace('Where is my order?', 'Refund me twice');
    const result = await verifyWebhook(secret, await signed(body), tampered, { now });
    expect(result).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_SIGNATURE', status: 401 });
  });

  test('refuses a delivery signed with another secret', async () => {
    const body = JSON.stringify(event);
    const result = await verifyWebhook(secret, await signed(body, { key: oldSecret }), body, { now });
    expect(result).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_SIGNATURE' });
  });

  test('refuses a timestamp outside the tolerance window with WEBHOOK_STALE', async () => {
    const body = JSON.stringify(event);
    const old = await signed(body, { timestamp: ts - 301 });
    expect(await verifyWebhook(secret, old, body, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_STALE', status: 401 });
    const future = await signed(body, { timestamp: ts + 301 });
    expect(await verifyWebhook(secret, future, body, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_STALE' });
    expect((await verifyWebhook(secret, old, body, { now, toleranceSec: 600 })).ok).toBe(true);
  });

  test('refuses a delivery with a missing header with WEBHOOK_MISSING_HEADERS', async () => {
    const body = JSON.stringify(event);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const headers: Record<string, string> = await signed(body);
      delete headers[name];
      expect(await verifyWebhook(secret, headers, body, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_MISSING_HEADERS', status: 400 });
    }
  });

  test('refuses a timestamp that is not unix seconds with WEBHOOK_BAD_TIMESTAMP', async () => {
    const body = JSON.stringify(event);
    const headers = { ...(await signed(body)), 'webhook-timestamp': '2027-01-15T10:00:00Z' };
    expect(await verifyWebhook(secret, headers, body, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_TIMESTAMP' });
  });

  test('refuses a correctly signed body that is not JSON or not a webhook event with WEBHOOK_BAD_BODY', async () => {
    const notJson = 'hello';
    expect(await verifyWebhook(secret, await signed(notJson), notJson, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_BODY', status: 400 });
    const wrongType = JSON.stringify({ ...event, type: 'order.paid' });
    expect(await verifyWebhook(secret, await signed(wrongType), wrongType, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_BODY' });
    const badMessage = JSON.stringify({ ...event, data: { message: { ...event.data, body: { type: 'text' } } } });
    const result = await verifyWebhook(secret, await signed(badMessage), badMessage, { now });
    expect(result).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_BODY' });
    expect(!result.ok && result.message).toContain('data.message');
  });

  test('accepts a header carrying several signatures when one matches (secret rotation)', async () => {
    const body = JSON.stringify(event);
    const current = await signed(body);
    const previous = await signed(body, { key: oldSecret });
    const both = { ...current, 'webhook-signature': `${previous['webhook-signature']} ${current['webhook-signature']}` };
    expect((await verifyWebhook(secret, both, body, { now })).ok).toBe(true);
    expect((await verifyWebhook(oldSecret, both, body, { now })).ok).toBe(true);
    // Node gives a repeated header as an array.
    const repeated = { ...current, 'webhook-signature': [previous['webhook-signature'], current['webhook-signature']] };
    expect((await verifyWebhook(secret, repeated, body, { now })).ok).toBe(true);
  });

  test('throws a TypeError when given parsed JSON instead of the raw body', async () => {
    const body = JSON.stringify(event);
    await expect(verifyWebhook(secret, await signed(body), event as never, { now })).rejects.toThrow(TypeError);
  });
});

describe('verifyWebhookOrThrow', () => {
  test('returns the event, or throws a WebhookError with the code and status', async () => {
    const body = JSON.stringify(event);
    const headers = await signed(body);
    expect(await verifyWebhookOrThrow(secret, headers, body, { now })).toEqual(event);
    const error = await verifyWebhookOrThrow(secret, headers, body + ' ', { now }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookError);
    expect(error).toMatchObject({ code: 'WEBHOOK_BAD_SIGNATURE', status: 401 });
  });
});

describe('event helpers', () => {
  test('narrow events by type and read message bodies', () => {
    expect(isEventType(event, 'message.created')).toBe(true);
    expect(isEventType(event, 'postback', 'handoff.requested')).toBe(false);
    expect(hasMessage(event)).toBe(true);
    expect(bodyOf(event, 'text')?.text).toBe('Where is my order?');
    expect(bodyOf(event, 'postback')).toBeUndefined();
    const started: WebhookEvent = { ...event, type: 'conversation.started', data: { context: {} } };
    expect(hasMessage(started)).toBe(false);
    expect(bodyOf(started, 'text')).toBeUndefined();
  });
});

describe('message.feedback', () => {
  test('a signed feedback delivery verifies as a typed event that carries no message', async () => {
    const feedback: WebhookEvent = {
      ...event,
      id: 'evt_Qm2xT8c0LrV4pZ9yKb1NwA',
      type: 'message.feedback',
      data: { messageId: 'ans_1', value: 'down', comment: 'It missed my question.' },
    };
    const body = JSON.stringify(feedback);
    const result = await verifyWebhook(secret, await signed(body, { id: feedback.id }), body, { now });
    if (!result.ok) throw new Error(result.message);
    expect(result.event).toEqual(feedback);
    const e = result.event;
    if (!isEventType(e, 'message.feedback')) throw new Error('not narrowed');
    const typed: FeedbackWebhookEvent = e;
    expect(typed.data).toEqual({ messageId: 'ans_1', value: 'down', comment: 'It missed my question.' });
    expect(hasMessage(e)).toBe(false);
    expect(bodyOf(e, 'text')).toBeUndefined();
    // A value other than up or down is not a feedback event.
    const bad = body.replace('"down"', '"meh"');
    expect(await verifyWebhook(secret, await signed(bad, { id: feedback.id }), bad, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_BODY' });
  });
});

describe('visitor activity and sign-in', () => {
  test('visitor.typing, visitor.read and visitor.identified verify as typed events carrying readSeq; a malformed one is refused', async () => {
    const visitor = { id: 'v_1', identity: { userId: 'u_42', verified: true }, readSeq: 4 };
    const cases: WebhookEvent[] = [
      { ...event, id: 'evt_t1', type: 'visitor.typing', visitor, data: { on: true } },
      { ...event, id: 'evt_r1', type: 'visitor.read', visitor, data: { seq: 4 } },
      { ...event, id: 'evt_i1', type: 'visitor.identified', visitor, data: { linkedConversationId: 'c_old' } },
    ];
    for (const sent of cases) {
      const body = JSON.stringify(sent);
      const result = await verifyWebhook(secret, await signed(body, { id: sent.id }), body, { now });
      if (!result.ok) throw new Error(result.message);
      expect(result.event).toEqual(sent);
      expect(result.event.visitor.readSeq).toBe(4);
      expect(hasMessage(result.event)).toBe(false);
    }
    const typing = cases[0]!;
    if (!isEventType(typing, 'visitor.typing', 'visitor.read')) throw new Error('not narrowed');
    const activity: ActivityWebhookEvent = typing;
    expect(activity.type).toBe('visitor.typing');
    const identified = cases[2]!;
    if (!isEventType(identified, 'visitor.identified')) throw new Error('not narrowed');
    const typed: IdentifiedWebhookEvent = identified;
    expect(typed.data.linkedConversationId).toBe('c_old');
    const bad = JSON.stringify({ ...cases[1]!, data: { seq: -1 } });
    expect(await verifyWebhook(secret, await signed(bad, { id: 'evt_r1' }), bad, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_BODY' });
  });
});

describe('verifyWebhooks (one event or a batch)', () => {
  const second: WebhookEvent = { ...event, id: 'evt_def456', conversationId: 'c_2', type: 'conversation.started', data: { context: {} } };
  const batch = { type: 'batch', id: 'batch_1', events: [event, second] };

  test('returns a batch’s events in order, with its id; one event comes back alone, without one', async () => {
    const body = JSON.stringify(batch);
    expect(await verifyWebhooks(secret, await signed(body, { id: 'batch_1' }), body, { now })).toEqual({ ok: true, events: [event, second], batchId: 'batch_1' });
    const single = JSON.stringify(event);
    expect(await verifyWebhooks(secret, await signed(single), Buffer.from(single), { now })).toEqual({ ok: true, events: [event] });
  });

  test('checks the signature of a batch like any webhook', async () => {
    const body = JSON.stringify(batch);
    const headers = await signed(body, { id: 'batch_1' });
    expect(await verifyWebhooks(secret, headers, body.replace('Where', 'When'), { now })).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_SIGNATURE', status: 401 });
    expect(await verifyWebhooks(oldSecret, headers, body, { now })).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_SIGNATURE' });
    expect(await verifyWebhooks(secret, headers, body, { now: now + 3_600_000 })).toMatchObject({ ok: false, code: 'WEBHOOK_STALE' });
  });

  test('refuses a batch with an invalid event, no events or too many with WEBHOOK_BAD_BODY, naming where', async () => {
    for (const [bad, where] of [
      [{ ...batch, events: [event, { ...second, type: 'nope' }] }, 'events.1'],
      [{ ...batch, events: [] }, 'events'],
      [{ ...batch, events: Array.from({ length: 101 }, () => event) }, 'events'],
    ] as const) {
      const body = JSON.stringify(bad);
      const result = await verifyWebhooks(secret, await signed(body, { id: 'batch_1' }), body, { now });
      expect(result).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_BODY', status: 400 });
      expect(result.ok || result.message).toContain(where);
    }
  });

  test('verifyWebhook refuses a batch with WEBHOOK_BAD_BODY, pointing to verifyWebhooks', async () => {
    const body = JSON.stringify(batch);
    const result = await verifyWebhook(secret, await signed(body, { id: 'batch_1' }), body, { now });
    expect(result).toMatchObject({ ok: false, code: 'WEBHOOK_BAD_BODY', message: expect.stringContaining('verifyWebhooks') });
  });
});
