import type { MsgFrame } from '@parley/protocol';
import { expect, test } from 'vitest';
import { memoryStorage } from '../test/memory-storage.js';
import { createConversation } from './conversation.js';
import { createEmitter } from './emitter.js';
import { blank } from './snapshot.js';
import { createStore } from './storage.js';
import type { ChatMessage, ClientEvents, Snapshot } from './types.js';

/** A conversation over plain storage and a plain snapshot: no socket, no timers. */
function setup(storage = memoryStorage().storage) {
  let snap: Snapshot = blank(true, { siteKey: 'shop', relayUrl: 'https://chat.shop.example' });
  const events = createEmitter<ClientEvents>();
  const messages: ChatMessage[] = [];
  events.on('message', (m) => messages.push(m));
  const store = createStore(storage, 'shop', false);
  const conversation = createConversation({
    store,
    emit: events.emit,
    set: (patch) => void (snap = { ...snap, ...patch }),
    snap: () => snap,
    tabs: () => undefined,
  });
  conversation.reset('c1');
  return { conversation, messages, snap: () => snap };
}

const msg = (seq: number, text: string, role: 'agent' | 'visitor' | 'bot' = 'agent'): MsgFrame => ({
  t: 'msg',
  id: `m${seq}`,
  seq,
  ts: 1000 + seq,
  from: { role },
  body: { type: 'text', text },
});

const texts = (snap: Snapshot) => snap.timeline.map((i) => (i.kind === 'msg' && i.body.type === 'text' ? i.body.text : i.id));

test('logged entries show in sequence order whatever order they arrive in, each once', () => {
  const { conversation, messages, snap } = setup();
  conversation.message(msg(3, 'third'));
  conversation.message(msg(1, 'first'));
  conversation.event({ t: 'event', seq: 2, id: 'e2', ts: 1002, event: { type: 'availability', online: false } });
  conversation.message(msg(1, 'first again'));
  expect(texts(snap())).toEqual(['first', 'e2', 'third']);
  expect(messages.map((m) => m.id)).toEqual(['m3', 'm1']);
  expect(snap().online).toBe(false);
  expect(conversation.lastSeq()).toBe(3);
});

test('a draft grows from its offsets and the finished message takes its place', () => {
  const { conversation, snap } = setup();
  conversation.message(msg(1, 'hello'));
  const draft = { t: 'draft' as const, id: 'm2', ts: 1002, from: { role: 'bot' as const } };
  conversation.draft({ ...draft, offset: 0, text: 'Our hours' });
  conversation.draft({ ...draft, offset: 9, text: ' are 9 to' });
  conversation.draft({ ...draft, offset: 40, text: 'gap' }); // beyond what is held: waits
  expect(texts(snap())).toEqual(['hello', 'Our hours are 9 to']);
  expect(snap().timeline[1]).toMatchObject({ draft: true });

  conversation.message(msg(2, 'Our hours are 9 to 5.', 'bot'));
  expect(texts(snap())).toEqual(['hello', 'Our hours are 9 to 5.']);
  expect(snap().timeline[1]).not.toHaveProperty('draft');
  // A draft that arrives after its message is late and changes nothing.
  conversation.draft({ ...draft, offset: 0, text: 'Our' });
  expect(texts(snap())).toEqual(['hello', 'Our hours are 9 to 5.']);
});

test('unread counts answers from others past the read position, until the visitor reads them', () => {
  const { conversation, snap } = setup();
  conversation.message(msg(1, 'hi', 'visitor'));
  conversation.message(msg(2, 'hello'));
  conversation.message(msg(3, 'how can I help?', 'bot'));
  expect(snap().unread).toBe(2);

  expect(conversation.markRead()).toBe(3);
  expect(snap().unread).toBe(0);
  expect(conversation.markRead()).toBe(0); // nothing new

  conversation.message(msg(4, 'still there?'));
  expect(snap().unread).toBe(1);
  // Read in another tab up to an older seq changes nothing; up to the newest, clears it.
  conversation.onRead('c1', 3);
  expect(snap().unread).toBe(1);
  conversation.onRead('c1', 4);
  expect(snap().unread).toBe(0);
});

test('the log, read position and last seq survive in storage for the next page', () => {
  const { storage } = memoryStorage();
  const first = setup(storage);
  first.conversation.message(msg(1, 'hello'));
  first.conversation.message(msg(2, 'anyone?'));
  first.conversation.onRead('c1', 1);
  first.conversation.persist();

  const next = setup(storage);
  next.conversation.restore();
  expect(texts(next.snap())).toEqual(['hello', 'anyone?']);
  expect(next.conversation.conv()).toBe('c1');
  expect(next.conversation.lastSeq()).toBe(2);
  expect(next.snap().unread).toBe(1);
});

test('feedback shows on its message at once; its frame waits until sent, only the latest per message, and a new conversation drops it', () => {
  const { conversation, snap } = setup();
  conversation.message(msg(1, 'Your order shipped', 'bot'));
  conversation.message(msg(2, 'Anything else?', 'bot'));
  const frame = (id: string, messageId: string, value: 'up' | 'down') => ({ t: 'feedback' as const, id, messageId, value });
  conversation.feedback(frame('f1', 'm1', 'up'));
  conversation.feedback(frame('f2', 'm2', 'down'));
  conversation.feedback(frame('f3', 'm1', 'down')); // the visitor changed their mind
  expect(snap().timeline.map((i) => (i.kind === 'msg' ? i.feedback : undefined))).toEqual(['down', 'down']);

  const sent: string[] = [];
  conversation.sendFeedback((f) => f.id !== 'f2' && (sent.push(f.id), true)); // f2 cannot go yet
  expect(sent).toEqual(['f3']);
  conversation.sendFeedback((f) => (sent.push(f.id), true));
  expect(sent).toEqual(['f3', 'f2']);
  conversation.sendFeedback((f) => (sent.push(f.id), true));
  expect(sent).toEqual(['f3', 'f2']); // each sent once

  conversation.feedback(frame('f4', 'm2', 'up'));
  conversation.reset('c2');
  conversation.sendFeedback((f) => (sent.push(f.id), true));
  expect(sent).toEqual(['f3', 'f2']);
});
