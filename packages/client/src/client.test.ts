import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { CLOSE, HANDOFF_VALUE, type ServerFrame } from '@parley/protocol';
import { createClient } from './client.js';
import type { ChatMessage, ClientOptions, ConnectionState, ParleyClient, SocketLike } from './types.js';
import { memoryStorage } from '../test/memory-storage.js';

// A socket the test drives by hand: it stands in for the relay's side of the wire.
class FakeSocket implements SocketLike {
  readyState = 0;
  sent: any[] = [];
  closed = false;
  onopen: SocketLike['onopen'] = null;
  onclose: SocketLike['onclose'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onerror: SocketLike['onerror'] = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.closed = true;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  recv(frame: ServerFrame | string) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  drop(code: number, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  frames(t: string) {
    return this.sent.filter((f) => f.t === t);
  }
}


let siteN = 0;
const clients: ParleyClient[] = [];

function harness(options: Partial<ClientOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const client = createClient({
    siteKey: `site${siteN}`,
    relayUrl: 'https://relay.test',
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    storage: null,
    random: () => 0,
    backoff: { minMs: 10, maxMs: 10 },
    page: () => ({ url: 'https://shop.test/p/1', title: 'Shoes' }),
    ...options,
  });
  clients.push(client);
  const states: ConnectionState[] = [];
  const messages: ChatMessage[] = [];
  const errors: string[] = [];
  client.on('state', (c) => states.push(c.to));
  client.on('message', (m) => messages.push(m));
  client.on('error', (e) => errors.push(e.code));
  const sock = () => sockets.at(-1)!;
  /** Open a socket and answer its hello with `welcome`. */
  const accept = (over: Record<string, unknown> = {}) => {
    sock().open();
    sock().recv(welcome(over));
  };
  return { client, sockets, sock, accept, states, messages, errors };
}

const welcome = (over: Record<string, unknown> = {}) =>
  ({
    t: 'welcome',
    v: 1,
    conversationId: 'c1',
    visitorId: 'v1',
    token: 'tok-1',
    lastSeq: 0,
    greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
    site: { name: 'Demo Shop' },
    online: true,
    limits: { maxFrameBytes: 16384, maxTextLength: 4000, maxQuickReplies: 10 },
    ...over,
  }) as ServerFrame;

const bot = (seq: number, text = `bot ${seq}`): ServerFrame => ({ t: 'msg', seq, id: `b${seq}`, ts: 1000 + seq, from: { role: 'bot', name: 'Bot' }, body: { type: 'text', text } });
const ev = (seq: number | undefined, event: any): ServerFrame => ({ t: 'event', ...(seq ? { seq, id: `e${seq}` } : {}), ts: 5, event }) as ServerFrame;

beforeEach(() => {
  siteN++;
  vi.useFakeTimers();
});
afterEach(() => {
  clients.splice(0).forEach((c) => c.disconnect());
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('connection state machine', () => {
  test('connects to /v1/widget, says hello, and opens on welcome with the greeting', () => {
    const h = harness();
    h.client.connect();
    expect(h.sock().url).toBe('wss://relay.test/v1/widget');
    h.sock().open();
    expect(h.sock().sent[0]).toEqual({ t: 'hello', v: 1, siteKey: `site${siteN}`, page: { url: 'https://shop.test/p/1', title: 'Shoes' } });
    expect(h.client.getSnapshot().state).toBe('connecting');
    h.sock().recv(welcome());
    expect(h.states).toEqual(['connecting', 'open']);
    expect(h.client.getSnapshot()).toMatchObject({ state: 'open', siteName: 'Demo Shop', greeting: { text: 'Hi! How can we help?' } });
  });

  test('connect is idempotent while connecting or open', () => {
    const h = harness();
    h.client.connect();
    h.client.connect();
    h.accept();
    h.client.connect();
    expect(h.sockets).toHaveLength(1);
  });

  test('a reconnectable close reconnects after the backoff, resuming with the token and lastSeq', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    h.sock().recv(bot(2));
    h.sock().drop(CLOSE.GOING_AWAY);
    expect(h.client.getSnapshot().state).toBe('reconnecting');
    expect(h.sockets).toHaveLength(1);
    vi.advanceTimersByTime(10);
    expect(h.sockets).toHaveLength(2);
    h.sock().open();
    expect(h.sock().sent[0]).toMatchObject({ t: 'hello', token: 'tok-1', lastSeq: 2 });
    h.sock().recv(welcome({ lastSeq: 2 }));
    expect(h.states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
  });

  test('a socket that never opens counts as a failed attempt and is retried', () => {
    const h = harness();
    h.client.connect();
    h.sock().drop(1006);
    expect(h.client.getSnapshot().state).toBe('reconnecting');
    vi.advanceTimersByTime(10);
    h.accept();
    expect(h.states).toEqual(['connecting', 'reconnecting', 'open']);
  });

  test('a do-not-reconnect close ends in closed with the matching error code, and never retries', () => {
    const h = harness();
    h.client.connect();
    h.sock().open();
    h.sock().drop(CLOSE.ORIGIN_REFUSED, 'origin');
    expect(h.client.getSnapshot().state).toBe('closed');
    expect(h.errors).toEqual(['ORIGIN_REFUSED']);
    vi.advanceTimersByTime(120_000);
    expect(h.sockets).toHaveLength(1);
  });

  test('a refusing close code this client does not know still ends in closed with an error event', () => {
    const h = harness();
    const seen: string[] = [];
    h.client.on('error', (e) => seen.push(e.message));
    h.client.connect();
    h.sock().open();
    h.sock().drop(4499, 'site suspended');
    expect(h.client.getSnapshot().state).toBe('closed');
    expect(h.errors).toEqual(['CONNECTION_REFUSED']);
    expect(seen).toEqual(['The relay refused the connection (4499 site suspended).']);
    vi.advanceTimersByTime(120_000);
    expect(h.sockets).toHaveLength(1);
  });

  test('an error frame before the refusing close is reported once', () => {
    const h = harness();
    h.client.connect();
    h.sock().open();
    h.sock().recv({ t: 'error', code: 'IDENTITY_INVALID', message: 'bad signature' });
    h.sock().drop(CLOSE.IDENTITY_INVALID);
    expect(h.errors).toEqual(['IDENTITY_INVALID']);
    expect(h.client.getSnapshot().state).toBe('closed');
  });

  test('a stale visitor token is dropped and the client starts over without it', () => {
    const { storage, map } = memoryStorage();
    const h = harness({ storage });
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    h.sock().drop(CLOSE.GOING_AWAY);
    vi.advanceTimersByTime(10);
    h.sock().open();
    h.sock().drop(CLOSE.TOKEN_INVALID);
    expect(h.client.getSnapshot().state).toBe('reconnecting');
    vi.advanceTimersByTime(0);
    h.sock().open();
    expect(h.sock().sent[0].token).toBeUndefined();
    expect(h.sock().sent[0].lastSeq).toBeUndefined();
    expect(map.has(`parley:site${siteN}:token`)).toBe(false);
    // Refused again without a token: now it stops.
    h.sock().drop(CLOSE.TOKEN_INVALID);
    expect(h.client.getSnapshot().state).toBe('closed');
  });

  test('disconnect closes for good until connect is called again', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.client.disconnect();
    expect(h.sock().closed).toBe(true);
    expect(h.client.getSnapshot().state).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(h.sockets).toHaveLength(1);
    h.client.connect();
    expect(h.sockets).toHaveLength(2);
  });

  test('heartbeat: pings while open and reconnects when the relay stops answering', () => {
    const h = harness({ pingIntervalMs: 1000 });
    h.client.connect();
    h.accept();
    vi.advanceTimersByTime(1000);
    expect(h.sock().frames('ping')).toHaveLength(1);
    h.sock().recv({ t: 'pong', ts: 1 });
    vi.advanceTimersByTime(1000);
    expect(h.sock().frames('ping')).toHaveLength(2);
    expect(h.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1000); // no answer to the second ping
    expect(h.sockets[0]!.closed).toBe(true);
    expect(h.client.getSnapshot().state).toBe('reconnecting');
    vi.advanceTimersByTime(10);
    expect(h.sockets).toHaveLength(2);
  });

  test('invalid relay frames are dropped with an error event; the connection stays open', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.sock().recv('{not json');
    h.sock().recv(JSON.stringify({ t: 'msg', seq: -1 }));
    expect(h.errors).toEqual(['BAD_JSON', 'BAD_FRAME']);
    expect(h.client.getSnapshot().state).toBe('open');
  });
});

describe('resume', () => {
  test('a message or event whose seq was already seen is dropped', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    h.sock().recv(ev(2, { type: 'agent_joined', agent: { role: 'agent', name: 'Mia' } }));
    h.sock().recv(bot(1));
    h.sock().recv(ev(2, { type: 'agent_joined', agent: { role: 'agent', name: 'Mia' } }));
    expect(h.client.getSnapshot().timeline.map((i) => i.seq)).toEqual([1, 2]);
    expect(h.messages.map((m) => m.id)).toEqual(['b1']);
  });

  test('a reload restores history, the outbox and the greeting from storage, then resumes after lastSeq', () => {
    const { storage } = memoryStorage();
    const a = harness({ storage });
    a.client.connect();
    a.accept();
    a.sock().recv(bot(1));
    a.sock().recv(bot(2));
    a.sock().drop(1006);
    const queued = a.client.send('still there?');
    a.client.disconnect();

    const b = harness({ storage });
    const snap = b.client.getSnapshot();
    expect(snap.timeline.map((i) => i.id)).toEqual(['b1', 'b2', queued.id]);
    expect(snap.greeting?.text).toBe('Hi! How can we help?');
    b.client.connect();
    b.sock().open();
    expect(b.sock().sent[0]).toMatchObject({ token: 'tok-1', lastSeq: 2 });
    b.sock().recv(welcome({ lastSeq: 3 }));
    expect(b.sock().frames('send')).toMatchObject([{ id: queued.id, body: { type: 'text', text: 'still there?' } }]);
    b.sock().recv(bot(2));
    b.sock().recv(bot(3));
    // Unacked messages stay last until the relay acks them.
    expect(b.client.getSnapshot().timeline.map((i) => i.id)).toEqual(['b1', 'b2', 'b3', queued.id]);
  });

  test('when the relay answers with another conversation, it is fetched again from the start', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    h.sock().recv(bot(2));
    h.sock().drop(1006);
    vi.advanceTimersByTime(10);
    h.sock().open();
    expect(h.sock().sent[0].lastSeq).toBe(2);
    h.sock().recv(welcome({ conversationId: 'c2', token: 'tok-2' }));
    expect(h.client.getSnapshot().timeline).toEqual([]);
    vi.advanceTimersByTime(0);
    h.sock().open();
    expect(h.sock().sent[0]).toMatchObject({ token: 'tok-2' });
    expect(h.sock().sent[0].lastSeq).toBeUndefined();
  });
});

describe('reset', () => {
  test('a welcome with reset drops the timeline and lastSeq and shows the replay from seq 1, without reconnecting', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    for (let seq = 1; seq <= 5; seq++) h.sock().recv(bot(seq));
    h.sock().drop(1006);
    vi.advanceTimersByTime(10);
    h.sock().open();
    expect(h.sock().sent[0].lastSeq).toBe(5);
    const sockets = h.sockets.length;
    // The relay lost the log past seq 1 (same conversation id): it replays from 0.
    h.sock().recv(welcome({ reset: true, lastSeq: 1 }));
    expect(h.client.getSnapshot().timeline).toEqual([]);
    h.sock().recv({ t: 'msg', seq: 1, id: 'n1', ts: 1, from: { role: 'bot' }, body: { type: 'text', text: 'new first' } });
    h.sock().recv(bot(2, 'new second'));
    expect(h.client.getSnapshot().timeline.map((i) => i.id)).toEqual(['n1', 'b2']);
    vi.advanceTimersByTime(1000);
    expect(h.sockets.length).toBe(sockets);
    expect(h.client.getSnapshot().state).toBe('open');
  });
});

describe('outbox', () => {
  test('a send the relay cannot store (NOT_READY) stays sending and goes again, however long the outage', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const m = h.client.send('during the outage');
    for (let i = 0; i < 12; i++) {
      expect(h.sock().frames('send').length).toBe(i + 1);
      h.sock().recv({ t: 'error', code: 'NOT_READY', message: 'The relay is not ready to serve.', id: m.id });
      expect(h.client.getSnapshot().timeline.find((x) => x.id === m.id)).toMatchObject({ status: 'sending' });
      vi.advanceTimersByTime(1000);
    }
    h.sock().recv({ t: 'ack', id: m.id, seq: 1, ts: 5 });
    expect(h.client.getSnapshot().timeline.find((x) => x.id === m.id)).toMatchObject({ status: 'sent', seq: 1 });
  });

  test('a message written while a refused one waits for its resend goes out after it, in order', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const first = h.client.send('first');
    h.sock().recv({ t: 'error', code: 'NOT_READY', message: 'The relay is not ready to serve.', id: first.id });
    const second = h.client.send('second');
    expect(h.sock().frames('send').map((f: { id: string }) => f.id)).toEqual([first.id]);
    vi.advanceTimersByTime(1000);
    expect(h.sock().frames('send').map((f: { id: string }) => f.id)).toEqual([first.id, first.id, second.id]);
  });


  test('a message sent before the relay answers shows as sending, goes out after welcome and turns sent on ack', () => {
    const h = harness();
    h.client.connect();
    const m = h.client.send('hello?');
    expect(h.client.getSnapshot().timeline).toMatchObject([{ id: m.id, status: 'sending' }]);
    h.sock().open();
    expect(h.sock().frames('send')).toEqual([]);
    h.sock().recv(welcome());
    expect(h.sock().frames('send')).toEqual([{ t: 'send', id: m.id, body: { type: 'text', text: 'hello?' } }]);
    h.sock().recv({ t: 'ack', id: m.id, seq: 1, ts: 50 });
    expect(h.client.getSnapshot().timeline).toMatchObject([{ id: m.id, seq: 1, status: 'sent' }]);
    expect(h.messages.map((x) => x.status)).toEqual(['sending', 'sent']);
    // The relay's echo of the same message is not shown twice.
    h.sock().recv({ t: 'msg', seq: 1, id: m.id, ts: 50, from: { role: 'visitor' }, body: { type: 'text', text: 'hello?' } });
    expect(h.client.getSnapshot().timeline).toHaveLength(1);
  });

  test('an unacked message is resent with the same id after each reconnect', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const m = h.client.send('one');
    h.sock().drop(CLOSE.SLOW_CONSUMER);
    vi.advanceTimersByTime(10);
    h.accept();
    expect(h.sockets.map((s) => s.frames('send').map((f) => f.id))).toEqual([[m.id], [m.id]]);
  });

  test('an error frame for a message marks it failed; retry sends it again with the same id', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const m = h.client.send('closed?');
    h.sock().recv({ t: 'error', code: 'CONVERSATION_CLOSED', message: 'closed', id: m.id });
    expect(h.client.getSnapshot().timeline).toMatchObject([{ id: m.id, status: 'failed' }]);
    expect(h.errors).toEqual(['CONVERSATION_CLOSED']);
    h.client.retry(m.id);
    expect(h.client.getSnapshot().timeline).toMatchObject([{ id: m.id, status: 'sending' }]);
    expect(h.sock().frames('send').map((f) => f.id)).toEqual([m.id, m.id]);
  });

  test('a message the relay keeps refusing (closing the socket) ends up failed instead of looping', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const m = h.client.send('x');
    for (let i = 0; i < 6; i++) {
      h.sock().drop(CLOSE.FRAME_TOO_LARGE);
      vi.advanceTimersByTime(10);
      h.accept();
    }
    expect(h.client.getSnapshot().timeline).toMatchObject([{ id: m.id, status: 'failed' }]);
    expect(h.sock().frames('send')).toEqual([]);
  });

  test('a message over the protocol limits fails at once and is never sent', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const m = h.client.send('x'.repeat(4001));
    expect(m.status).toBe('failed');
    expect(h.errors).toEqual(['BAD_FRAME']);
    expect(h.sock().frames('send')).toEqual([]);
  });

  test('postback, rating, handoff and leave-a-message send their bodies', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.client.postback({ label: 'Shipping', value: 'shipping' });
    h.client.rate(5, 'great');
    h.client.requestHuman();
    h.client.leaveMessage('ann@shop.test', 'call me');
    expect(h.sock().frames('send').map((f) => f.body)).toEqual([
      { type: 'postback', value: 'shipping', label: 'Shipping' },
      { type: 'rating', score: 5, comment: 'great' },
      { type: 'postback', value: HANDOFF_VALUE, label: 'Talk to a human' },
      { type: 'contact', email: 'ann@shop.test', text: 'call me' },
    ]);
  });

  test('messages queued offline in two tabs both survive when one tab closes, and are sent after a reload', () => {
    const { storage } = memoryStorage();
    const a = harness({ storage });
    const b = harness({ storage });
    a.client.connect();
    b.client.connect(); // neither socket ever opens: offline
    const one = a.client.send('from tab A');
    const two = b.client.send('from tab B');
    a.client.disconnect(); // tab A is closed
    b.client.disconnect();
    const c = harness({ storage });
    c.client.connect();
    c.accept();
    expect(c.sock().frames('send').map((f) => f.id).sort()).toEqual([one.id, two.id].sort());
    // Acked, they leave the shared outbox: not even a new conversation after a reload sends them again.
    c.sock().recv({ t: 'ack', id: one.id, seq: 1, ts: 1 });
    c.sock().recv({ t: 'ack', id: two.id, seq: 2, ts: 2 });
    c.client.restart();
    c.client.disconnect();
    const d = harness({ storage });
    d.client.connect();
    d.accept({ conversationId: 'c2' });
    expect(d.sock().frames('send')).toEqual([]);
    expect(d.client.getSnapshot().timeline).toEqual([]);
  });

  test("the agent's read event marks the visitor's sent messages read", () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const m = h.client.send('a');
    h.sock().recv({ t: 'ack', id: m.id, seq: 1, ts: 1 });
    h.sock().recv(ev(undefined, { type: 'read', seq: 1, from: { role: 'agent' } }));
    expect(h.client.getSnapshot().timeline).toMatchObject([{ id: m.id, status: 'read' }]);
  });
});

describe('conversation events', () => {
  test('queue, agent, typing, rating request, availability and closed reach the snapshot and events', () => {
    const h = harness();
    const seen: string[] = [];
    h.client.on('queue', (q) => seen.push(`queue:${q?.position ?? '-'}`));
    h.client.on('agent', (a) => seen.push(`agent:${a.joined}:${a.agent?.name}`));
    h.client.on('typing', (t) => seen.push(`typing:${t.on}`));
    h.client.on('availability', (a) => seen.push(`online:${a.online}`));
    h.client.connect();
    h.accept();
    const s = h.sock();
    s.recv(ev(1, { type: 'queue', position: 3, etaSec: 60 }));
    expect(h.client.getSnapshot().queue).toEqual({ position: 3, etaSec: 60 });
    s.recv(ev(2, { type: 'agent_joined', agent: { role: 'agent', name: 'Mia' } }));
    expect(h.client.getSnapshot()).toMatchObject({ agent: { name: 'Mia' }, queue: null });
    s.recv(ev(undefined, { type: 'typing', on: true, from: { role: 'agent', name: 'Mia' } }));
    expect(h.client.getSnapshot().typing).toMatchObject({ name: 'Mia' });
    s.recv({ t: 'msg', seq: 3, id: 'a3', ts: 3, from: { role: 'agent', name: 'Mia' }, body: { type: 'text', text: 'hi' } });
    expect(h.client.getSnapshot().typing).toBeNull();
    s.recv(ev(4, { type: 'rating_request', text: 'How did we do?' }));
    expect(h.client.getSnapshot().ratingRequested).toEqual({ text: 'How did we do?' });
    s.recv(ev(undefined, { type: 'availability', online: false }));
    s.recv(ev(5, { type: 'closed' }));
    expect(h.client.getSnapshot()).toMatchObject({ online: false, closed: true });
    h.client.rate(4);
    expect(h.client.getSnapshot().ratingRequested).toBeNull();
    expect(seen).toEqual(['queue:3', 'agent:true:Mia', 'typing:true', 'typing:false', 'online:false']);
    expect(h.client.getSnapshot().timeline.map((i) => i.kind)).toEqual(['event', 'event', 'msg', 'event', 'event', 'msg']);
  });

  test('after a reload, stored events rebuild who serves and whether it is closed', () => {
    const { storage } = memoryStorage();
    const a = harness({ storage });
    a.client.connect();
    a.accept();
    a.sock().recv(ev(1, { type: 'agent_joined', agent: { role: 'agent', name: 'Mia' } }));
    a.sock().recv(ev(2, { type: 'closed' }));
    const b = harness({ storage });
    expect(b.client.getSnapshot()).toMatchObject({ agent: { name: 'Mia' }, closed: true });
  });

  test('restart says hello with fresh and starts an empty conversation', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    h.sock().recv(ev(2, { type: 'closed' }));
    h.client.restart();
    expect(h.client.getSnapshot()).toMatchObject({ closed: false, timeline: [] });
    vi.advanceTimersByTime(0);
    h.sock().open();
    expect(h.sock().sent[0]).toMatchObject({ t: 'hello', fresh: true, token: 'tok-1' });
    expect(h.sock().sent[0].lastSeq).toBeUndefined();
    h.sock().recv(welcome({ conversationId: 'c2', token: 'tok-2' }));
    expect(h.client.getSnapshot().state).toBe('open');
    h.sock().drop(1006);
    vi.advanceTimersByTime(10);
    h.sock().open();
    expect(h.sock().sent[0].fresh).toBeUndefined();
  });

  test('setContext sends a context frame when open, and the next hello carries the page', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.client.setContext({ url: 'https://shop.test/p/2', title: 'Boots', product: { title: 'Boots', price: '€90' } });
    expect(h.sock().frames('context')).toEqual([
      { t: 'context', page: { url: 'https://shop.test/p/2', title: 'Boots' }, product: { title: 'Boots', price: '€90' } },
    ]);
    h.sock().drop(1006);
    vi.advanceTimersByTime(10);
    h.sock().open();
    expect(h.sock().sent[0].page).toEqual({ url: 'https://shop.test/p/2', title: 'Boots' });
  });

  test('identify reconnects at once with the identity in hello, and shows what the relay accepted', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const signature = 'a'.repeat(64);
    h.client.identify({ userId: 'u1', name: 'Ann', signature });
    vi.advanceTimersByTime(0);
    h.sock().open();
    expect(h.sock().sent[0].identity).toEqual({ userId: 'u1', name: 'Ann', signature });
    h.sock().recv(welcome({ identity: { userId: 'u1', verified: true } }));
    expect(h.client.getSnapshot().identity).toEqual({ userId: 'u1', verified: true });
    h.client.identify({ userId: 'u1', name: 'Ann', signature });
    expect(h.sockets).toHaveLength(2); // the same identity again changes nothing
    expect(() => h.client.identify({ userId: '', signature: 'nope' })).toThrow(TypeError);
  });
});

describe('unread and tabs', () => {
  test("unread counts others' messages after the last read; markRead resets it and tells the relay", async () => {
    const h = harness();
    const counts: number[] = [];
    h.client.on('unread', (n) => counts.push(n));
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    await Promise.resolve();
    const m = h.client.send('mine');
    h.sock().recv({ t: 'ack', id: m.id, seq: 2, ts: 2 });
    h.sock().recv(bot(3));
    expect(h.client.getSnapshot().unread).toBe(2);
    await Promise.resolve();
    h.client.markRead();
    expect(h.client.getSnapshot().unread).toBe(0);
    expect(h.sock().frames('read')).toEqual([{ t: 'read', seq: 3 }]);
    await Promise.resolve();
    expect(counts).toEqual([1, 2, 0]);
  });

  test('`unread` is told once per task, after `change`: a UI that marks what it shows as read keeps it at 0', async () => {
    const h = harness();
    const told: string[] = [];
    let showing = true;
    h.client.on('change', (s) => {
      told.push(`change ${s.unread}`);
      if (showing && s.unread) h.client.markRead(); // an open panel
    });
    h.client.on('unread', (n) => told.push(`unread ${n}`));
    h.client.connect();
    h.accept();
    for (let seq = 1; seq <= 3; seq++) h.sock().recv(bot(seq));
    await vi.advanceTimersByTimeAsync(0);
    expect(told.filter((x) => x.startsWith('unread'))).toEqual([]);
    expect(h.sock().frames('read')).toEqual([{ t: 'read', seq: 3 }]);
    showing = false; // the panel closed
    h.sock().recv(bot(4));
    h.sock().recv(bot(5));
    await vi.advanceTimersByTimeAsync(0);
    expect(told.slice(-2)).toEqual(['change 2', 'unread 2']);
  });

  test('two tabs over one storage: reading in one resets unread in the other, and notify fires once', async () => {
    const { storage } = memoryStorage();
    const a = harness({ storage });
    const b = harness({ storage });
    const notified: string[] = [];
    a.client.on('notify', (m) => notified.push(`a:${m.id}`));
    b.client.on('notify', (m) => notified.push(`b:${m.id}`));
    a.client.connect();
    a.accept();
    b.client.connect();
    b.accept();
    a.sock().recv(bot(1));
    b.sock().recv(bot(1));
    a.sock().recv(bot(2));
    b.sock().recv(bot(2));
    await vi.waitFor(() => expect(notified).toHaveLength(2));
    expect(notified.map((n) => n.slice(2))).toEqual(['b1', 'b2']);
    expect(b.client.getSnapshot().unread).toBe(2);
    a.client.markRead();
    await vi.waitFor(() => expect(b.client.getSnapshot().unread).toBe(0));
    // A third tab opened later starts with the shared read position.
    const c = harness({ storage });
    expect(c.client.getSnapshot().unread).toBe(0);
  });
});

describe('storage and consent', () => {
  test('with requireConsent a whole conversation writes nothing until consent(); shutdown clears it all', () => {
    const { storage, map } = memoryStorage();
    const h = harness({ storage, requireConsent: true });
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    h.client.send('hi');
    h.client.markRead();
    h.client.identify({ userId: 'u1' });
    expect(map.size).toBe(0);
    expect(h.client.getSnapshot().consented).toBe(false);
    h.client.consent();
    expect(h.client.getSnapshot().consented).toBe(true);
    const keys = [...map.keys()].map((k) => k.replace(`parley:site${siteN}:`, '')).sort();
    expect(keys).toEqual(['consent', 'greet', 'id', 'log', 'out', 'token']);
    h.client.shutdown();
    expect(map.size).toBe(0);
    expect(h.client.getSnapshot()).toMatchObject({ state: 'closed', timeline: [], unread: 0, consented: false });
  });

  test('null storage keeps everything in memory', () => {
    const h = harness({ storage: null });
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    expect(h.client.getSnapshot().timeline).toHaveLength(1);
  });
});

describe('change events', () => {
  test('a burst of frames yields one change event carrying the latest snapshot', async () => {
    const h = harness();
    const changes: number[] = [];
    h.client.on('change', (s) => changes.push(s.timeline.length));
    h.client.connect();
    h.accept();
    for (let seq = 1; seq <= 50; seq++) h.sock().recv(bot(seq));
    expect(h.client.getSnapshot().timeline).toHaveLength(50); // the snapshot itself is current at once
    await Promise.resolve();
    expect(changes).toEqual([50]);
  });
});

describe('in a browser', () => {
  test('going offline drops the socket and waits; coming online reconnects at once', () => {
    const win = new EventTarget();
    const nav = { onLine: true };
    vi.stubGlobal('window', win);
    vi.stubGlobal('navigator', nav);
    const h = harness({ backoff: { minMs: 60_000, maxMs: 60_000 } });
    h.client.connect();
    h.accept();
    const m = h.client.send('queued while offline');
    h.sock().recv({ t: 'ack', id: m.id, seq: 1, ts: 1 });
    nav.onLine = false;
    win.dispatchEvent(new Event('offline'));
    expect(h.sock().closed).toBe(true);
    expect(h.client.getSnapshot().state).toBe('reconnecting');
    const queued = h.client.send('second');
    vi.advanceTimersByTime(600_000);
    expect(h.sockets).toHaveLength(1); // no attempts while offline
    nav.onLine = true;
    win.dispatchEvent(new Event('online'));
    expect(h.sockets).toHaveLength(2); // no backoff wait
    h.accept();
    expect(h.sock().frames('send').map((f) => f.id)).toEqual([queued.id]);
  });

  test('a page becoming visible reconnects at once instead of waiting out the backoff', () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    vi.stubGlobal('document', doc);
    const h = harness({ backoff: { minMs: 60_000, maxMs: 60_000 } });
    h.client.connect();
    h.accept();
    h.sock().drop(1006);
    expect(h.sockets).toHaveLength(1);
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    expect(h.sockets).toHaveLength(2);
  });

  test('notify fires only while no tab of the site is visible', () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    vi.stubGlobal('document', doc);
    const h = harness({ storage: memoryStorage().storage });
    const notified: string[] = [];
    h.client.on('notify', (m) => notified.push(m.id));
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1));
    expect(notified).toEqual([]);
    doc.visibilityState = 'hidden';
    doc.dispatchEvent(new Event('visibilitychange'));
    h.sock().recv(bot(2));
    h.sock().recv({ t: 'msg', seq: 3, id: 'mine', ts: 3, from: { role: 'visitor' }, body: { type: 'text', text: 'from my other tab' } });
    expect(notified).toEqual(['b2']);
  });
});

describe('prepare: no socket before intent', () => {
  const config = { v: 1, site: { name: 'Config Shop' }, greeting: { text: 'Hello from the config', quickReplies: [{ label: 'Returns', value: 'returns' }] }, online: false };
  /** A fetch that records the URLs it was asked for and answers `body`. */
  const fetcher = (body: unknown = config) => {
    const urls: string[] = [];
    const fetch = async (url: string) => {
      urls.push(url);
      return { json: async () => body };
    };
    return { urls, fetch };
  };

  test('a new visitor opens no socket: the site config fills the greeting, name and availability', async () => {
    const f = fetcher();
    const h = harness({ fetch: f.fetch });
    h.client.prepare();
    await vi.runAllTimersAsync();
    expect(h.sockets).toHaveLength(0);
    expect(f.urls).toEqual([`https://relay.test/v1/sites/site${siteN}/config`]);
    const s = h.client.getSnapshot();
    expect(s.state).toBe('idle');
    expect(s.greeting).toEqual(config.greeting);
    expect(s.siteName).toBe('Config Shop');
    expect(s.online).toBe(false);
    h.client.prepare(); // once is enough
    expect(f.urls).toHaveLength(1);
  });

  test('a message sent before the socket waits in the outbox, connects, and goes out after welcome', async () => {
    const h = harness({ fetch: fetcher().fetch });
    h.client.prepare();
    const m = h.client.postback({ label: 'Returns', value: 'returns' });
    expect(m.status).toBe('sending');
    expect(h.sockets).toHaveLength(1);
    expect(h.client.getSnapshot().state).toBe('connecting');
    h.accept();
    expect(h.sock().frames('send')).toEqual([{ t: 'send', id: m.id, body: { type: 'postback', value: 'returns', label: 'Returns' } }]);
    h.sock().recv({ t: 'ack', id: m.id, seq: 1, ts: 5 });
    expect(h.client.getSnapshot().timeline).toMatchObject([{ id: m.id, seq: 1, status: 'sent' }]);
  });

  test('connect() is intent: it opens the socket at once, and welcome wins over a late config', async () => {
    let answer!: (v: { json(): Promise<unknown> }) => void;
    const h = harness({ fetch: () => new Promise((r) => (answer = r)) });
    h.client.prepare();
    h.client.connect();
    expect(h.sockets).toHaveLength(1);
    h.accept();
    answer({ json: async () => config });
    await vi.advanceTimersByTimeAsync(1);
    expect(h.client.getSnapshot().greeting?.text).toBe('Hi! How can we help?');
    expect(h.client.getSnapshot().siteName).toBe('Demo Shop');
  });

  test('a returning visitor (a conversation in storage) connects at once, and reads the config beside it for the strings', async () => {
    const { storage } = memoryStorage();
    const first = harness({ storage, fetch: fetcher().fetch });
    first.client.connect();
    first.accept();
    first.sock().recv(bot(1));
    first.client.disconnect();
    const f = fetcher({ ...config, locale: 'fr', dir: 'ltr', strings: { send: 'Envoyer' } });
    const again = harness({ storage, fetch: f.fetch, locale: 'fr-FR' });
    again.client.prepare();
    expect(again.sockets).toHaveLength(1);
    again.sock().open();
    expect(again.sock().frames('hello')[0].token).toBe('tok-1');
    expect(f.urls).toEqual([`https://relay.test/v1/sites/site${siteN}/config?locale=fr-FR`]);
    again.sock().recv(welcome());
    await vi.advanceTimersByTimeAsync(1);
    // The strings arrive; the greeting and availability of the welcome stand.
    expect(again.client.getSnapshot()).toMatchObject({ lang: { locale: 'fr', dir: 'ltr', strings: { send: 'Envoyer' } }, greeting: { text: 'Hi! How can we help?' }, online: true });
  });

  test('a visitor who only opened the panel once (a token, no conversation) stays without a socket', async () => {
    const { storage } = memoryStorage();
    const first = harness({ storage, fetch: fetcher().fetch });
    first.client.prepare();
    first.client.connect();
    first.accept();
    first.client.disconnect();
    const again = harness({ storage, fetch: fetcher().fetch });
    again.client.prepare();
    await vi.advanceTimersByTimeAsync(1);
    expect(again.sockets).toHaveLength(0);
    expect(again.client.getSnapshot().greeting?.text).toBe('Hello from the config'); // fresher than the stored welcome's
  });

  test('messages left unsent by an earlier page connect at once', () => {
    const { storage } = memoryStorage();
    const before = harness({ storage, fetch: fetcher().fetch });
    before.client.prepare();
    before.client.disconnect(); // the page went away before the socket opened
    before.client.send('still there?');
    const after = harness({ storage, fetch: fetcher().fetch });
    after.client.prepare();
    expect(after.sockets).toHaveLength(1);
    after.accept();
    expect(after.sock().frames('send').map((f) => f.body.text)).toEqual(['still there?']);
  });

  test('until the relay answers, the shop name and greeting given as options show; the config replaces them', async () => {
    const greeting = { text: 'Hi from the page', quickReplies: [] };
    let answer!: (v: { json(): Promise<unknown> }) => void;
    const h = harness({ siteName: 'Page Shop', greeting, fetch: () => new Promise((r) => (answer = r)) });
    expect(h.client.getSnapshot()).toMatchObject({ siteName: 'Page Shop', greeting, state: 'idle' });
    h.client.prepare();
    h.client.connect();
    h.sock().drop(1006); // the relay is down
    expect(h.client.getSnapshot()).toMatchObject({ siteName: 'Page Shop', greeting, state: 'reconnecting' });
    answer({ json: async () => config });
    await vi.advanceTimersByTimeAsync(1);
    expect(h.client.getSnapshot()).toMatchObject({ siteName: 'Config Shop', greeting: config.greeting });
  });

  test('the config read on one page shows on the next while the relay does not answer', async () => {
    const { storage } = memoryStorage();
    const first = harness({ storage, fetch: fetcher().fetch });
    first.client.prepare();
    await vi.advanceTimersByTimeAsync(1);
    first.client.disconnect();
    const next = harness({ storage, fetch: () => new Promise(() => {}) });
    next.client.prepare();
    next.client.connect();
    expect(next.client.getSnapshot()).toMatchObject({ siteName: 'Config Shop', greeting: config.greeting, state: 'connecting' });
  });

  test("the site's theme and triggers come with the config; the theme is kept for the next page, before its config arrives", async () => {
    const { storage } = memoryStorage();
    const theme = { primary: '#0b5d1e', position: 'left' as const };
    const triggers = [{ id: 'cart-help', when: { afterSec: 20 }, message: { text: 'Need a hand?', quickReplies: [] }, everyDays: 1 }];
    const first = harness({ storage, fetch: fetcher({ ...config, theme, triggers }).fetch });
    first.client.prepare();
    await vi.advanceTimersByTimeAsync(1);
    expect(first.client.getSnapshot()).toMatchObject({ theme, triggers, state: 'idle' });
    expect(first.sockets).toHaveLength(0);
    first.client.disconnect();
    const next = harness({ storage, fetch: () => new Promise(() => {}) });
    expect(next.client.getSnapshot().theme).toEqual(theme);
    expect(next.client.getSnapshot().triggers).toBeUndefined();
    // Forgotten with the rest on shutdown, frequency caps included.
    storage.setItem(`parley:site${siteN}:trg`, '{}');
    next.client.shutdown();
    expect(storage.getItem(`parley:site${siteN}:trg`)).toBeNull();
  });

  test('a config that fails the guard, an error answer or a failed fetch changes nothing and raises nothing', async () => {
    for (const fetch of [fetcher({ error: { code: 'NOT_FOUND' } }).fetch, fetcher({ ...config, online: 'yes' }).fetch, () => Promise.reject(new TypeError('CSP'))]) {
      const h = harness({ fetch });
      h.client.prepare();
      await vi.runAllTimersAsync();
      expect(h.client.getSnapshot().greeting).toBeNull();
      expect(h.errors).toEqual([]);
      expect(h.sockets).toHaveLength(0);
    }
  });
});

describe("the visitor's language", () => {
  const ar = {
    v: 1,
    site: { name: 'متجر' },
    greeting: { text: 'مرحبًا! كيف يمكننا مساعدتك؟', quickReplies: [] },
    online: true,
    locale: 'ar',
    dir: 'rtl',
    strings: { send: 'إرسال', typing: '{name} يكتب…' },
  };
  const fetcher = (body: unknown) => {
    const urls: string[] = [];
    return { urls, fetch: async (url: string) => (urls.push(url), { json: async () => body }) };
  };

  test('the locale option asks the config in that language, goes in hello.page.locale, and the snapshot carries the strings', async () => {
    const f = fetcher(ar);
    const h = harness({ fetch: f.fetch, locale: 'ar-EG' });
    h.client.prepare();
    await vi.runAllTimersAsync();
    expect(f.urls).toEqual([`https://relay.test/v1/sites/site${siteN}/config?locale=ar-EG`]);
    expect(h.client.getSnapshot()).toMatchObject({ greeting: ar.greeting, lang: { locale: 'ar', dir: 'rtl', strings: ar.strings } });
    h.client.connect();
    h.sock().open();
    expect(h.sock().frames('hello')[0].page).toEqual({ url: 'https://shop.test/p/1', title: 'Shoes', locale: 'ar-EG' });
  });

  test('the next page in the same language shows the kept greeting and strings at once; in another language it waits for its own', async () => {
    const { storage } = memoryStorage();
    const first = harness({ storage, fetch: fetcher(ar).fetch, locale: 'ar' });
    first.client.prepare();
    await vi.runAllTimersAsync();
    first.client.disconnect();
    const never = () => new Promise<never>(() => {});
    const same = harness({ storage, fetch: never, locale: 'ar' });
    expect(same.client.getSnapshot()).toMatchObject({ greeting: ar.greeting, lang: { locale: 'ar', dir: 'rtl', strings: ar.strings } });
    const other = harness({ storage, fetch: never, locale: 'de' });
    expect(other.client.getSnapshot()).toMatchObject({ greeting: null, lang: null, siteName: 'متجر' });
  });

  test('a config without a locale (an older relay) leaves the strings English', async () => {
    const { locale: _l, dir: _d, strings: _s, ...old } = ar;
    const h = harness({ fetch: fetcher(old).fetch, locale: 'ar' });
    h.client.prepare();
    await vi.runAllTimersAsync();
    expect(h.client.getSnapshot()).toMatchObject({ greeting: ar.greeting, lang: null });
  });
});

describe('streamed answers', () => {
  const ai = { role: 'bot', name: 'Sage', ai: true } as const;
  const draft = (offset: number, text: string, id = 'a1'): ServerFrame => ({ t: 'draft', id, ts: 2000, from: ai, offset, text });
  const answer = (seq: number, text: string, extra: Record<string, unknown> = {}, id = 'a1'): ServerFrame =>
    ({ t: 'msg', seq, id, ts: 3000, from: ai, body: { type: 'text', text }, ...extra }) as ServerFrame;
  const shown = (h: ReturnType<typeof harness>) =>
    h.client.getSnapshot().timeline.map((i) => (i.kind === 'msg' && i.body.type === 'text' ? `${i.id}${i.draft ? '~' : ''}:${i.body.text}` : i.id));
  /** A connected client with one bot message logged (seq 1). */
  const streaming = (options: Partial<ClientOptions> = {}) => {
    const h = harness(options);
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1, 'Let me check.'));
    return h;
  };

  test('deltas grow one draft; an overlapping delta keeps the text once and a delta past a gap is ignored', () => {
    const h = streaming();
    h.sock().recv(draft(0, 'The parcel '));
    h.sock().recv(draft(11, 'left our '));
    // Overlap: the relay resent from an earlier offset (another instance, a retry).
    h.sock().recv(draft(4, 'parcel left our warehouse'));
    expect(shown(h)).toEqual(['b1:Let me check.', 'a1~:The parcel left our warehouse']);
    // Gap: text from offset 40 when 29 characters are held is ignored, not appended.
    h.sock().recv(draft(40, 'GAP'));
    expect(shown(h)).toEqual(['b1:Let me check.', 'a1~:The parcel left our warehouse']);
    h.sock().recv(draft(29, ' today.'));
    expect(shown(h)).toEqual(['b1:Let me check.', 'a1~:The parcel left our warehouse today.']);
    // A delta that does not start at 0 for an answer not held yet is a gap too.
    h.sock().recv(draft(5, 'second', 'a2'));
    expect(shown(h)).toHaveLength(2);
  });

  test('a draft is shown after the log and the unsent messages, is never unread and fires neither message nor notify', () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    vi.stubGlobal('document', doc);
    const h = streaming({ storage: memoryStorage().storage });
    const notified: string[] = [];
    h.client.on('notify', (m) => notified.push(m.id));
    h.client.markRead();
    h.sock().readyState = 3; // sends fail: the message stays unsent
    const q = h.client.send('and the refund?');
    h.sock().readyState = 1;
    h.sock().recv(draft(0, 'Your parcel'));
    const snap = h.client.getSnapshot();
    expect(snap.timeline.map((i) => i.id)).toEqual(['b1', q.id, 'a1']);
    expect(snap.timeline[2]).toMatchObject({ kind: 'msg', draft: true, from: ai, body: { type: 'text', text: 'Your parcel' } });
    expect(snap.timeline[2]!.seq).toBeUndefined();
    expect(snap.unread).toBe(0);
    expect(h.messages.map((m) => m.id)).toEqual(['b1', q.id]);
    h.sock().recv(answer(2, 'Your parcel is on its way.'));
    expect(h.client.getSnapshot().unread).toBe(1);
    expect(h.messages.map((m) => m.id)).toEqual(['b1', q.id, 'a1']);
    expect(notified).toEqual(['a1']);
  });

  test('the finished message replaces its draft: one entry with that id, the final text, a seq, no draft mark', () => {
    const h = streaming();
    h.sock().recv(draft(0, 'Your parcel is on'));
    h.sock().recv(answer(2, 'Your parcel is on its way.', { body: { type: 'text', text: 'Your parcel is on its way.', sources: [{ title: 'Shipping', url: 'https://shop.test/shipping' }] } }));
    const entries = h.client.getSnapshot().timeline.filter((i) => i.id === 'a1');
    expect(entries).toEqual([
      { kind: 'msg', id: 'a1', seq: 2, ts: 3000, from: ai, body: { type: 'text', text: 'Your parcel is on its way.', sources: [{ title: 'Shipping', url: 'https://shop.test/shipping' }] } },
    ]);
    // A late delta of a logged answer changes nothing.
    h.sock().recv(draft(0, 'Your parcel is on its way. Late'));
    expect(shown(h)).toEqual(['b1:Let me check.', 'a1:Your parcel is on its way.']);
  });

  test('an aborted answer arrives marked incomplete and replaces its draft', () => {
    const h = streaming();
    h.sock().recv(draft(0, 'Your parcel is'));
    h.sock().recv(answer(2, 'Your parcel is', { incomplete: true }));
    expect(h.client.getSnapshot().timeline.filter((i) => i.id === 'a1')).toEqual([
      { kind: 'msg', id: 'a1', seq: 2, ts: 3000, from: ai, body: { type: 'text', text: 'Your parcel is' }, incomplete: true },
    ]);
  });

  test('a draft whose socket dropped stays on screen; the snapshot after reconnect replaces its text without repeating words', () => {
    const h = streaming();
    h.sock().recv(draft(0, 'Your parcel '));
    h.sock().recv(draft(12, 'left'));
    h.sock().drop(1006);
    expect(shown(h)).toEqual(['b1:Let me check.', 'a1~:Your parcel left']);
    vi.advanceTimersByTime(10);
    h.sock().open();
    h.sock().recv(welcome({ lastSeq: 1 }));
    h.sock().recv(bot(1, 'Let me check.')); // replay overlap
    // The snapshot: everything so far, at offset 0, then live deltas (one overlapping it).
    h.sock().recv(draft(0, 'Your parcel left our warehouse'));
    h.sock().recv(draft(21, 'warehouse today'));
    expect(shown(h)).toEqual(['b1:Let me check.', 'a1~:Your parcel left our warehouse today']);
  });

  test('a reset, a restart and a new conversation drop the drafts', () => {
    const h = streaming();
    h.sock().recv(draft(0, 'Your parcel'));
    h.sock().drop(1006);
    vi.advanceTimersByTime(10);
    h.sock().open();
    h.sock().recv(welcome({ reset: true, lastSeq: 0 }));
    expect(h.client.getSnapshot().timeline).toEqual([]);
    h.sock().recv(draft(0, 'Again'));
    h.client.restart();
    expect(h.client.getSnapshot().timeline).toEqual([]);
  });
});

describe('feedback', () => {
  const ai = { role: 'bot', ai: true } as const;
  const answer: ServerFrame = { t: 'msg', seq: 1, id: 'a1', ts: 3000, from: ai, body: { type: 'text', text: 'Your parcel is on its way.' } };

  test('sends one feedback frame with a fresh id and records the choice on the message', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.sock().recv(answer);
    h.client.feedback('a1', 'down', '  It did not answer my question  ');
    const frames = h.sock().frames('feedback');
    expect(frames).toEqual([{ t: 'feedback', id: expect.stringMatching(/^[\w-]{8,}$/), messageId: 'a1', value: 'down', comment: 'It did not answer my question' }]);
    expect(h.client.getSnapshot().timeline[0]).toMatchObject({ id: 'a1', feedback: 'down' });
    h.client.feedback('a1', 'up');
    const [first, second] = h.sock().frames('feedback');
    expect(second).toEqual({ t: 'feedback', id: expect.any(String), messageId: 'a1', value: 'up' });
    expect(second.id).not.toBe(first.id);
    expect(h.client.getSnapshot().timeline[0]).toMatchObject({ feedback: 'up' });
  });

  test('given offline, it is sent once after the reconnect, and only the latest choice', () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.sock().recv(answer);
    h.sock().drop(1006);
    h.client.feedback('a1', 'up');
    h.client.feedback('a1', 'down', 'Wrong size chart');
    expect(h.client.getSnapshot().timeline[0]).toMatchObject({ feedback: 'down' });
    vi.advanceTimersByTime(10);
    h.sock().open();
    expect(h.sock().frames('feedback')).toEqual([]); // not before welcome
    h.sock().recv(welcome({ lastSeq: 1 }));
    expect(h.sock().frames('feedback')).toEqual([{ t: 'feedback', id: expect.any(String), messageId: 'a1', value: 'down', comment: 'Wrong size chart' }]);
    h.sock().drop(1006);
    vi.advanceTimersByTime(10);
    h.accept({ lastSeq: 1 });
    expect(h.sock().frames('feedback')).toEqual([]);
  });

  test('the choice survives a reload with the history', () => {
    const { storage } = memoryStorage();
    const a = harness({ storage });
    a.client.connect();
    a.accept();
    a.sock().recv(answer);
    a.client.feedback('a1', 'up');
    a.sock().recv({ t: 'msg', seq: 2, id: 'b2', ts: 3001, from: { role: 'bot' }, body: { type: 'text', text: 'Anything else?' } });
    a.client.disconnect();
    const b = harness({ storage });
    expect(b.client.getSnapshot().timeline.map((i) => (i.kind === 'msg' ? [i.id, i.feedback] : i.id))).toEqual([
      ['a1', 'up'],
      ['b2', undefined],
    ]);
  });
});

describe('past conversations', () => {
  const entry = (seq: number, text: string) => ({ kind: 'msg' as const, seq, id: `p${seq}`, ts: 100 + seq, from: { role: 'agent' as const }, body: { type: 'text' as const, text } });

  test('pastConversations sends a history frame and resolves with the items of the answer naming it', async () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const listed = h.client.pastConversations();
    const [ask] = h.sock().frames('history');
    expect(ask).toEqual({ t: 'history', id: expect.any(String) });
    const items = [{ id: 'c0', createdAt: 5, closed: true, lastSeq: 3, preview: 'Thanks!' }];
    h.sock().recv({ t: 'conversations', id: 'someone-else', items: [] });
    h.sock().recv({ t: 'conversations', id: ask.id, items });
    expect(await listed).toEqual(items);
    expect(h.errors).toEqual([]);
  });

  test('openPast pages through the whole log, in order, and leaves the snapshot as it was', async () => {
    const h = harness();
    h.client.connect();
    h.accept();
    h.sock().recv(bot(1, 'the conversation on screen'));
    const before = h.client.getSnapshot();
    const opened = h.client.openPast('c0');
    let ask = h.sock().frames('history')[0];
    expect(ask).toEqual({ t: 'history', id: expect.any(String), conversationId: 'c0', after: 0 });
    h.sock().recv({ t: 'history', id: ask.id, conversationId: 'c0', entries: [entry(1, 'one'), entry(2, 'two')], hasMore: true });
    await vi.waitFor(() => expect(h.sock().frames('history')).toHaveLength(2));
    ask = h.sock().frames('history')[1];
    expect(ask).toMatchObject({ conversationId: 'c0', after: 2 });
    h.sock().recv({ t: 'history', id: ask.id, conversationId: 'c0', entries: [{ kind: 'event', seq: 3, id: 'e3', ts: 104, event: { type: 'closed' } }], hasMore: false });
    expect(await opened).toEqual([entry(1, 'one'), entry(2, 'two'), { kind: 'event', seq: 3, id: 'e3', ts: 104, event: { type: 'closed' } }]);
    expect(h.client.getSnapshot()).toBe(before);
    expect(h.messages.map((m) => m.id)).toEqual(['b1']);
  });

  test('an error naming the request rejects it with its code, and reports no runtime error', async () => {
    const h = harness();
    h.client.connect();
    h.accept();
    const opened = h.client.openPast('not-mine');
    const [ask] = h.sock().frames('history');
    h.sock().recv({ t: 'error', code: 'NOT_FOUND', message: 'No past conversation of this visitor has this id.', id: ask.id });
    await expect(opened).rejects.toEqual({ code: 'NOT_FOUND', message: 'No past conversation of this visitor has this id.' });
    expect(h.errors).toEqual([]);
  });

  test('before the connection is open, and when it drops before the answer, a request rejects with NOT_READY', async () => {
    const h = harness();
    await expect(h.client.pastConversations()).rejects.toMatchObject({ code: 'NOT_READY' });
    h.client.connect();
    h.accept();
    const listed = h.client.pastConversations();
    const opened = h.client.openPast('c0');
    h.sock().drop(1006);
    await expect(listed).rejects.toMatchObject({ code: 'NOT_READY' });
    await expect(opened).rejects.toMatchObject({ code: 'NOT_READY' });
  });
});
