import { HANDOFF_VALUE } from '@parley/protocol';
import { signIdentity } from '@parley/backend';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startDemoBackend, type DemoBackend } from './demo-backend.js';
import {
  API_SECRET,
  WEBHOOK_SECRET,
  consoleApi,
  deliver,
  deliverBatch,
  startFakeRelay,
  visitorMessage,
  webhookEvent,
  type FakeRelay,
} from './test-support.js';

const SHOP = 'http://shop.test';
let relay: FakeRelay;
let backend: DemoBackend;

async function start(extra: Partial<Parameters<typeof startDemoBackend>[0]> = {}) {
  backend = await startDemoBackend({
    port: 0,
    relayUrl: relay.url,
    apiSecret: API_SECRET,
    webhookSecret: WEBHOOK_SECRET,
    identitySecret: 'identity-secret-for-tests',
    shopUrl: SHOP,
    log: () => {},
    ...extra,
  });
  await backend.settled();
}

beforeEach(async () => {
  relay = await startFakeRelay();
});

afterEach(async () => {
  await backend?.close();
  await relay.close();
});

const texts = (reply: any): string[] => reply.messages.map((m: any) => m.body.text ?? m.body.title);
const replyValues = (message: any): string[] => message.body.replies.map((r: any) => r.value);

describe('FAQ bot (inline webhook replies)', () => {
  beforeEach(() => start());

  test('answers a greeting button in English with quick replies, signed as the bot', async () => {
    const { status, reply } = await deliver(backend.url, visitorMessage('c_en', { type: 'postback', value: 'shipping', label: 'Shipping time' }, 'postback'));
    expect(status).toBe(200);
    expect(reply.messages).toHaveLength(1);
    const [m] = reply.messages;
    expect(m.from).toEqual({ role: 'bot', name: 'Parley Bot' });
    expect(m.body.type).toBe('quick_replies');
    expect(m.body.text).toMatch(/ship/i);
    expect(replyValues(m)).toEqual(['returns', 'sizes', 'order_status', HANDOFF_VALUE]);
  });

  test.each([
    ['returns', /return/i],
    ['sizes', /size/i],
    ['order_status', /order number/i],
  ])('answers the %s button', async (value, expected) => {
    const { reply } = await deliver(backend.url, visitorMessage('c_btn', { type: 'postback', value, label: value }, 'postback'));
    expect(reply.messages[0].body.text).toMatch(expected);
  });

  test('answers a batch of events (webhookBatch) with each reply under its event id, as it answers them one by one', async () => {
    const shipping = visitorMessage('c_b1', { type: 'postback', value: 'shipping', label: 'Shipping time' }, 'postback');
    const chinese = visitorMessage('c_b2', { type: 'text', text: '请问多久发货？' });
    const started = webhookEvent('conversation.started', 'c_b3', { context: {} });
    const { status, reply } = await deliverBatch(backend.url, [shipping, chinese, started]);
    expect(status).toBe(200);
    expect(Object.keys(reply.replies).sort()).toEqual([shipping.id, chinese.id].sort());
    expect(texts(reply.replies[shipping.id])).toEqual(texts((await deliver(backend.url, visitorMessage('c_b4', { type: 'postback', value: 'shipping', label: 'Shipping time' }, 'postback'))).reply));
    expect(texts(reply.replies[chinese.id])[0]).toMatch(/[\u4e00-\u9fff]/);
    // A batch signed with another secret is refused as a whole.
    expect((await deliverBatch(backend.url, [shipping], 'whsec_' + Buffer.from('another-secret-of-32-bytes-0000!').toString('base64'))).status).toBe(401);
  });

  test('answers Chinese questions in Chinese', async () => {
    const { reply } = await deliver(backend.url, visitorMessage('c_zh', { type: 'text', text: '请问多久发货？' }));
    const [m] = reply.messages;
    expect(m.body.text).toContain('发货');
    expect(m.body.replies.map((r: any) => r.label)).toContain('转人工');
  });

  test("answers a button in the page's language when the page is zh-CN", async () => {
    await deliver(backend.url, webhookEvent('conversation.started', 'c_zhpage', { context: { page: { url: 'https://shop.example/', locale: 'zh-CN' } } }));
    const { reply } = await deliver(backend.url, visitorMessage('c_zhpage', { type: 'postback', value: 'returns', label: 'Returns' }, 'postback'));
    expect(reply.messages[0].body.text).toContain('退货');
  });

  test('"order 1001" gets an order card', async () => {
    const { reply } = await deliver(backend.url, visitorMessage('c_order', { type: 'text', text: 'Where is order 1001?' }));
    const card = reply.messages.find((m: any) => m.body.type === 'card').body;
    expect(card).toMatchObject({ kind: 'order', title: 'Order #1001', price: '€129.00', imageUrl: `${SHOP}/img/order.svg` });
    expect(card.subtitle).toMatch(/shipped/i);
    expect(card.url).toMatch(/^https:\/\//);
    expect(card.actions.map((a: any) => a.label)).toEqual(['Track parcel', 'Return an item', 'Talk to a human']);
  });

  test('"订单 1001" gets the order card in Chinese', async () => {
    const { reply } = await deliver(backend.url, visitorMessage('c_order_zh', { type: 'text', text: '订单 1001' }));
    const card = reply.messages.find((m: any) => m.body.type === 'card').body;
    expect(card.title).toBe('订单 #1001');
    expect(card.subtitle).toContain('已发货');
    expect(card.actions.map((a: any) => a.label)).toContain('转人工');
  });

  test('an unknown order number says so and offers a human', async () => {
    const { reply } = await deliver(backend.url, visitorMessage('c_order_x', { type: 'text', text: 'order 4242' }));
    expect(reply.messages[0].body.text).toContain('4242');
    expect(replyValues(reply.messages[0])).toContain(HANDOFF_VALUE);
  });

  test('a product question gets product cards', async () => {
    const { reply } = await deliver(backend.url, visitorMessage('c_shoes', { type: 'text', text: 'Do you have trail shoes?' }));
    const cards = reply.messages.filter((m: any) => m.body.type === 'card').map((m: any) => m.body);
    expect(cards).toHaveLength(1);
    expect(cards[0]).toMatchObject({ kind: 'product', title: 'Trail Runner 2', price: '€129.00', imageUrl: `${SHOP}/img/trail-runner.svg`, url: `${SHOP}/` });
    const jacket = await deliver(backend.url, visitorMessage('c_jacket', { type: 'text', text: 'I need a rain jacket' }));
    expect(texts(jacket.reply)).toContain('Ridge Shell Jacket');
    const zh = await deliver(backend.url, visitorMessage('c_shoes_zh', { type: 'text', text: '有跑鞋吗' }));
    expect(texts(zh.reply)).toContain('Trail Runner 2 越野跑鞋');
  });

  test('anything else gets a fallback with "Talk to a human"', async () => {
    const { reply } = await deliver(backend.url, visitorMessage('c_huh', { type: 'text', text: 'Can a llama wear these?' }));
    const [m] = reply.messages;
    expect(m.body.text).toMatch(/didn't get that/);
    expect(m.body.replies).toContainEqual({ label: 'Talk to a human', value: HANDOFF_VALUE });
  });

  test('events without a message are acknowledged with no reply', async () => {
    const started = await deliver(backend.url, webhookEvent('conversation.started', 'c_quiet', { context: {} }));
    expect(started).toEqual({ status: 204, reply: null });
  });
});

describe('handoff to a human', () => {
  beforeEach(() => start());

  test('queues visitors who ask for a human and tells each their place', async () => {
    const first = await deliver(backend.url, visitorMessage('c_a', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
    expect(texts(first.reply)[0]).toMatch(/human.*next in line/i);
    const second = await deliver(backend.url, visitorMessage('c_b', { type: 'text', text: '转人工' }));
    expect(texts(second.reply)[0]).toContain('前面还有 1 位');
    await backend.settled();
    expect(relay.events('c_a')).toEqual([{ type: 'handoff', state: 'requested' }, { type: 'queue', position: 1, etaSec: 90 }]);
    expect(relay.events('c_b')).toEqual([{ type: 'handoff', state: 'requested' }, { type: 'queue', position: 2, etaSec: 180 }]);
    const state = (await consoleApi(backend.url, 'GET', '/console/api/state')).data;
    expect(state.conversations.map((c: any) => [c.id, c.status, c.position])).toEqual([
      ['c_a', 'waiting', 1],
      ['c_b', 'waiting', 2],
    ]);
  });

  test('"human" or "agent" in a text starts the handoff too', async () => {
    const { reply } = await deliver(backend.url, visitorMessage('c_word', { type: 'text', text: 'Can I talk to an agent please' }));
    expect(texts(reply)[0]).toMatch(/connecting you to a human/i);
  });

  test('an agent takes the conversation: agent joined, handoff accepted, the queue moves, the bot goes quiet', async () => {
    await deliver(backend.url, visitorMessage('c_a', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
    await deliver(backend.url, visitorMessage('c_b', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
    await backend.settled();

    const take = await consoleApi(backend.url, 'POST', '/console/api/conversations/c_a/take', {});
    expect(take.status).toBe(200);
    await backend.settled();
    expect(relay.events('c_a').slice(2)).toEqual([
      { type: 'agent_joined', agent: { role: 'agent', id: 'agent_mia', name: 'Mia' } },
      { type: 'handoff', state: 'accepted' },
    ]);
    expect(relay.events('c_b').at(-1)).toEqual({ type: 'queue', position: 1, etaSec: 90 });

    const quiet = await deliver(backend.url, visitorMessage('c_a', { type: 'text', text: 'How long is shipping?' }));
    expect(quiet.status).toBe(204);
    const quietButton = await deliver(backend.url, visitorMessage('c_a', { type: 'postback', value: 'sizes', label: 'Sizes' }, 'postback'));
    expect(quietButton.status).toBe(204);
    expect(relay.messages('c_a')).toEqual([]);
  });

  test('the agent replies, types and closes with a rating request; the rating shows in the console', async () => {
    await deliver(backend.url, visitorMessage('c_a', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
    await backend.settled();
    const typing = await consoleApi(backend.url, 'POST', '/console/api/conversations/c_a/typing', { on: true });
    expect(typing.status).toBe(200);
    const sent = await consoleApi(backend.url, 'POST', '/console/api/conversations/c_a/messages', { id: 'msg_console_1', text: 'Hi, Mia here!' });
    expect(sent.status).toBe(201);
    expect(sent.data).toMatchObject({ kind: 'msg', id: 'msg_console_1', from: { role: 'agent', name: 'Mia' }, body: { type: 'text', text: 'Hi, Mia here!' } });
    expect(relay.messages('c_a')).toEqual([{ id: 'msg_console_1', from: { role: 'agent', id: 'agent_mia', name: 'Mia' }, body: { type: 'text', text: 'Hi, Mia here!' } }]);
    // Typing went out before the agent had taken it; replying took the conversation.
    expect(relay.events('c_a').map((e) => e.type)).toEqual(['handoff', 'queue', 'typing', 'agent_joined', 'handoff']);
    expect(relay.events('c_a')[2]).toEqual({ type: 'typing', on: true, from: { role: 'agent', id: 'agent_mia', name: 'Mia' } });

    const closed = await consoleApi(backend.url, 'POST', '/console/api/conversations/c_a/close', {});
    expect(closed.data.status).toBe('closed');
    expect(relay.events('c_a').slice(-2)).toEqual([
      { type: 'rating_request', text: 'How did we do? Please rate this conversation.' },
      { type: 'closed', reason: 'Closed by Mia' },
    ]);

    const rated = await deliver(backend.url, visitorMessage('c_a', { type: 'rating', score: 5, comment: 'Great help' }, 'rating.submitted'));
    expect(rated.status).toBe(204);
    const state = (await consoleApi(backend.url, 'GET', '/console/api/state')).data;
    expect(state.ratings).toEqual([expect.objectContaining({ conversationId: 'c_a', score: 5, comment: 'Great help', agent: 'Mia' })]);
    const refused = await consoleApi(backend.url, 'POST', '/console/api/conversations/c_a/messages', { text: 'one more' });
    expect(refused.status).toBe(409);
  });

  test('the transcript merges what the backend saw with the relay history', async () => {
    await deliver(backend.url, visitorMessage('c_t', { type: 'text', text: 'order 1001' }));
    await consoleApi(backend.url, 'POST', '/console/api/conversations/c_t/messages', { id: 'msg_t1', text: 'Let me check.' });
    const { data } = await consoleApi(backend.url, 'GET', '/console/api/conversations/c_t');
    const lines = data.entries.map((e: any) => (e.kind === 'msg' ? `${e.from.role}:${e.body.text ?? e.body.title}` : `event:${e.event.type}`));
    expect(lines).toEqual(['event:agent_joined', 'event:handoff', 'agent:Let me check.', 'visitor:order 1001', 'bot:Here is order #1001:', 'bot:Order #1001']);
    expect(relay.calls.some((c) => c.method === 'GET' && c.path === '/v1/conversations/c_t/messages')).toBe(true);
  });

  test('a retried delivery gets the same reply and starts nothing twice', async () => {
    const event = visitorMessage('c_retry', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested');
    const once = await deliver(backend.url, event);
    const twice = await deliver(backend.url, event);
    expect(twice.reply).toEqual(once.reply);
    await backend.settled();
    expect(relay.events('c_retry').map((e) => e.type)).toEqual(['handoff', 'queue']);
  });
});

describe('webhook verification', () => {
  beforeEach(() => start());

  test('a bad signature is refused with 401 and nothing happens', async () => {
    const wrong = 'whsec_' + Buffer.from('not-the-demo-webhook-secret-00000').toString('base64');
    const before = relay.calls.length;
    const { status, reply } = await deliver(backend.url, visitorMessage('c_forged', { type: 'postback', value: HANDOFF_VALUE, label: 'x' }, 'handoff.requested'), wrong);
    expect(status).toBe(401);
    expect(reply.error.code).toBe('WEBHOOK_BAD_SIGNATURE');
    await backend.settled();
    expect(relay.calls.length).toBe(before);
    expect((await consoleApi(backend.url, 'GET', '/console/api/state')).data.conversations).toEqual([]);
  });

  test('an unsigned delivery is refused with 400', async () => {
    const res = await fetch(`${backend.url}/webhooks/parley`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('WEBHOOK_MISSING_HEADERS');
  });
});

describe('availability and the leave-a-message form', () => {
  test('tells the relay it is online at start, and offline when the demo switch is turned off', async () => {
    await start();
    const availability = () => relay.calls.filter((c) => c.path === '/v1/availability').map((c) => c.body);
    expect(availability()).toEqual([{ online: true }]);
    const off = await consoleApi(backend.url, 'POST', '/console/api/availability', { online: false });
    expect(off.data).toMatchObject({ online: false, switchOn: false });
    expect(availability()).toEqual([{ online: true }, { online: false }]);

    const handoff = await deliver(backend.url, visitorMessage('c_off', { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' }, 'handoff.requested'));
    expect(texts(handoff.reply)[0]).toMatch(/offline/);
    await backend.settled();
    expect(relay.events('c_off')).toEqual([]);
  });

  test('is offline outside OPEN_HOURS', async () => {
    const evening = new Date(2027, 0, 15, 20, 30).getTime();
    await start({ openHours: '09:00-18:00', now: () => evening });
    expect(relay.calls.filter((c) => c.path === '/v1/availability').map((c) => c.body)).toEqual([{ online: false }]);
    const state = (await consoleApi(backend.url, 'GET', '/console/api/state')).data;
    expect(state.availability).toMatchObject({ online: false, switchOn: true, openHours: '09:00-18:00' });
  });

  test('stores messages left with the contact form and shows them in the console', async () => {
    await start();
    const visitor = { id: 'v_ana', identity: { userId: 'u_1001', name: 'Ana Demo', verified: true } };
    await deliver(backend.url, webhookEvent('message.created', 'c_left', { message: { seq: 1, id: 'm_left', ts: 1, from: { role: 'visitor' }, body: { type: 'contact', email: 'ana@example.com', text: 'Call me about 1001' } } }, visitor));
    const state = (await consoleApi(backend.url, 'GET', '/console/api/state')).data;
    expect(state.contacts).toEqual([expect.objectContaining({ conversationId: 'c_left', email: 'ana@example.com', text: 'Call me about 1001', userId: 'u_1001', verified: true })]);
    expect(state.conversations[0].identity).toMatchObject({ userId: 'u_1001', verified: true });
  });
});

describe('the agent console page', () => {
  beforeEach(() => start());

  test('is served under a strict CSP with no inline script or style', async () => {
    const res = await fetch(`${backend.url}/console`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/\sstyle=|<style/i);
    for (const id of ['conversations', 'reply', 'send', 'take', 'close-rate', 'ratings', 'availability', 'contacts', 'transcript']) expect(html).toContain(`id="${id}"`);
    expect((await fetch(`${backend.url}/console/console.js`)).headers.get('content-type')).toMatch(/javascript/);
  });

  test('streams the state over Server-Sent Events, and each new message', async () => {
    const controller = new AbortController();
    const res = await fetch(`${backend.url}/console/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const next = async (name: string) => {
      for (;;) {
        const frames = buffer.split('\n\n');
        const found = frames.findIndex((f) => f.includes(`event: ${name}\n`));
        if (found >= 0 && found < frames.length - 1) {
          buffer = frames.slice(found + 1).join('\n\n');
          return JSON.parse(frames[found]!.split('data: ')[1]!);
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += value;
      }
    };
    expect((await next('state')).conversations).toEqual([]);
    await deliver(backend.url, visitorMessage('c_live', { type: 'text', text: 'hello' }));
    const entry = await next('entry');
    expect(entry).toMatchObject({ conversationId: 'c_live', entry: { kind: 'msg', from: { role: 'visitor' }, body: { text: 'hello' } } });
    expect((await next('state')).conversations.map((c: any) => c.id)).toEqual(['c_live']);
    controller.abort();
  });

  test('refuses cross-origin console actions', async () => {
    await deliver(backend.url, visitorMessage('c_x', { type: 'text', text: 'hi' }));
    const res = await fetch(`${backend.url}/console/api/conversations/c_x/take`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: '{}',
    });
    expect(res.status).toBe(403);
    expect(relay.events('c_x')).toEqual([]);
  });

  test('signs the demo shopper identity with the identity secret', async () => {
    const res = await fetch(`${backend.url}/demo/identity`);
    const body = await res.json();
    expect(body).toMatchObject({ userId: 'u_1001' });
    expect(body.signature).toBe(await signIdentity('identity-secret-for-tests', 'u_1001'));
  });
});

describe("the visitor's typing and read marks, and the agent's", () => {
  beforeEach(() => start());

  const summaryOf = async (id: string) => (await consoleApi(backend.url, 'GET', '/console/api/state')).data.conversations.find((c: any) => c.id === id);

  test('visitor.typing shows the visitor typing until an off or their next message; answered 204 and never remembered as a reply', async () => {
    await deliver(backend.url, visitorMessage('c_typing', { type: 'text', text: 'hi' }));
    const on = webhookEvent('visitor.typing', 'c_typing', { on: true });
    expect((await deliver(backend.url, on)).status).toBe(204);
    expect((await summaryOf('c_typing')).visitorTyping).toBe(true);
    await deliver(backend.url, webhookEvent('visitor.typing', 'c_typing', { on: false }));
    expect((await summaryOf('c_typing')).visitorTyping).toBe(false);
    await deliver(backend.url, webhookEvent('visitor.typing', 'c_typing', { on: true }));
    await deliver(backend.url, visitorMessage('c_typing', { type: 'text', text: 'order 1001' }));
    expect((await summaryOf('c_typing')).visitorTyping).toBe(false);
    // Typing for a conversation the desk never saw creates nothing.
    await deliver(backend.url, webhookEvent('visitor.typing', 'c_unknown', { on: true }));
    expect(await summaryOf('c_unknown')).toBeUndefined();
  });

  test("the visitor's read mark comes from visitor.read and from every event's visitor.readSeq, and only grows", async () => {
    await deliver(backend.url, visitorMessage('c_read', { type: 'text', text: 'hi' }));
    await deliver(backend.url, webhookEvent('visitor.read', 'c_read', { seq: 3 }));
    expect((await summaryOf('c_read')).readSeq).toBe(3);
    await deliver(backend.url, webhookEvent('context.updated', 'c_read', { context: {} }, { id: 'v_c_read', readSeq: 5 }));
    expect((await summaryOf('c_read')).readSeq).toBe(5);
    await deliver(backend.url, webhookEvent('visitor.read', 'c_read', { seq: 4 }));
    expect((await summaryOf('c_read')).readSeq).toBe(5);
  });

  test('the console marks what the agent has seen read: a transient read event from the agent, once per raise', async () => {
    await deliver(backend.url, visitorMessage('c_seen', { type: 'text', text: 'hi' }));
    expect((await consoleApi(backend.url, 'POST', '/console/api/conversations/c_seen/read', { seq: 2 })).status).toBe(200);
    expect((await consoleApi(backend.url, 'POST', '/console/api/conversations/c_seen/read', { seq: 2 })).status).toBe(200);
    expect((await consoleApi(backend.url, 'POST', '/console/api/conversations/c_seen/read', { seq: 1 })).status).toBe(200);
    expect((await consoleApi(backend.url, 'POST', '/console/api/conversations/c_seen/read', { seq: 0 })).status).toBe(400);
    expect(relay.events('c_seen')).toEqual([{ type: 'read', seq: 2, from: { role: 'agent', id: 'agent_mia', name: 'Mia' } }]);
  });

  test('visitor.identified shows the signed-in customer and links their other open conversation', async () => {
    await deliver(backend.url, visitorMessage('c_anon', { type: 'text', text: 'hi' }));
    const identity = { userId: 'u_1001', name: 'Ana Demo', verified: true };
    await deliver(backend.url, webhookEvent('visitor.identified', 'c_anon', { linkedConversationId: 'c_older' }, { id: 'v_c_anon', identity, readSeq: 1 }));
    expect(await summaryOf('c_anon')).toMatchObject({ identity, linkedConversationId: 'c_older' });
  });
});
