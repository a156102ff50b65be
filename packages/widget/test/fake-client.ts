// A stand-in for @parley/client in component tests: it implements the public contract
// (ParleyClient, Snapshot) and records every call, so tests see what the widget asked
// the client to do, not how the real client does it.
import type { ChatMessage, ClientEvents, ParleyClient, Snapshot, TimelineItem } from '@parley/client';
import type { MessageBody, PastConversation, Sender } from '@parley/protocol';

export const T0 = Date.UTC(2026, 0, 15, 9, 30);

export function snapshot(patch: Partial<Snapshot> = {}): Snapshot {
  return {
    state: 'open',
    timeline: [],
    unread: 0,
    greeting: null,
    lang: null,
    siteName: 'Trailhead Outfitters',
    online: true,
    agent: null,
    typing: null,
    queue: null,
    ratingRequested: null,
    closed: false,
    identity: null,
    consented: true,
    uploads: null,
    ...patch,
  };
}

let n = 0;
/** A message as the client would put it in the timeline. */
export function msg(from: Sender['role'] | Sender, body: MessageBody | string, extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    kind: 'msg',
    id: `m${++n}`,
    seq: n,
    ts: T0,
    from: typeof from === 'string' ? { role: from } : from,
    body: typeof body === 'string' ? { type: 'text', text: body } : body,
    ...extra,
  };
}

export interface FakeClient extends ParleyClient {
  /** Every call the widget made, as [method, ...args]. */
  calls: unknown[][];
  /** Change the snapshot and emit `change`, as the real client does. */
  update(patch: Partial<Snapshot>): void;
  emit<E extends keyof ClientEvents>(event: E, ...args: Parameters<ClientEvents[E]>): void;
  /** What `requestUpload` answers (a test sets it); rejects by default. */
  uploadAnswer: ParleyClient['requestUpload'];
  /** What `pastConversations` answers (none by default), and `openPast` per id (NOT_FOUND for others). */
  past: PastConversation[];
  transcripts: Record<string, TimelineItem[]>;
}

export function fakeClient(patch: Partial<Snapshot> = {}): FakeClient {
  let snap = snapshot(patch);
  const handlers: Record<string, Set<(...args: never[]) => void>> = {};
  const calls: unknown[][] = [];
  const record = (name: string) => (...args: unknown[]) => void calls.push([name, ...args]);
  const outgoing = (body: MessageBody): ChatMessage => {
    const m = msg('visitor', body, { status: 'sending', seq: undefined });
    fake.update({ timeline: [...snap.timeline, m] });
    return m;
  };
  const fake: FakeClient = {
    calls,
    update(p) {
      snap = { ...snap, ...p };
      fake.emit('change', snap);
    },
    emit(event, ...args) {
      for (const fn of handlers[event] ?? []) (fn as (...a: unknown[]) => void)(...args);
    },
    connect: record('connect'),
    prepare: record('prepare'),
    disconnect: record('disconnect'),
    send(text) {
      calls.push(['send', text]);
      return outgoing({ type: 'text', text });
    },
    postback(button) {
      calls.push(['postback', button]);
      return outgoing({ type: 'postback', ...button });
    },
    rate(score, comment) {
      calls.push(['rate', score, comment]);
      return outgoing({ type: 'rating', score, ...(comment ? { comment } : {}) });
    },
    requestHuman(label = 'Talk to a human') {
      calls.push(['requestHuman', label]);
      return outgoing({ type: 'postback', label, value: 'parley:human' });
    },
    leaveMessage(email, text) {
      calls.push(['leaveMessage', email, text]);
      return outgoing({ type: 'contact', email, text });
    },
    requestUpload(file) {
      calls.push(['requestUpload', file]);
      return fake.uploadAnswer(file);
    },
    uploadAnswer: () => Promise.reject({ code: 'UPLOAD_UNAVAILABLE', message: 'No backend in this test.' }),
    sendFile(file) {
      calls.push(['sendFile', file]);
      return outgoing({ type: 'file', ...file });
    },
    feedback(messageId, value, comment) {
      calls.push(['feedback', messageId, value, comment]);
      // Recorded on the message at once, as the real client does.
      fake.update({ timeline: snap.timeline.map((i) => (i.kind === 'msg' && i.id === messageId ? { ...i, feedback: value } : i)) });
    },
    retry: record('retry'),
    setContext: record('setContext'),
    identify: record('identify'),
    typing: record('typing'),
    markRead() {
      calls.push(['markRead']);
      if (snap.unread) fake.update({ unread: 0 });
    },
    consent: record('consent'),
    restart: record('restart'),
    past: [],
    transcripts: {},
    pastConversations() {
      calls.push(['pastConversations']);
      return Promise.resolve(fake.past);
    },
    openPast(id) {
      calls.push(['openPast', id]);
      const items = fake.transcripts[id];
      return items ? Promise.resolve(items) : Promise.reject({ code: 'NOT_FOUND', message: 'No past conversation of this visitor has this id.' });
    },
    shutdown: record('shutdown'),
    getSnapshot: () => snap,
    on(event, fn) {
      const set = (handlers[event] ??= new Set());
      set.add(fn);
      return () => void set.delete(fn);
    },
  };
  return fake;
}
