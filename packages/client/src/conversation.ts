import type { AckFrame, ConversationEvent, DraftFrame, EventFrame, FeedbackFrame, MsgFrame, TextBody } from '@parley/protocol';
import type { createEmitter } from './emitter.js';
import { createOutbox } from './outbox.js';
import { MAX_STORED_ITEMS, type createStore } from './storage.js';
import type { Tabs } from './tabs.js';
import type { ChatEvent, ChatMessage, ClientEvents, Snapshot, TimelineItem } from './types.js';

export interface ConversationDeps {
  store: ReturnType<typeof createStore>;
  emit: ReturnType<typeof createEmitter<ClientEvents>>['emit'];
  /** Update the snapshot (batched by the caller). */
  set: (patch: Partial<Snapshot>) => void;
  snap: () => Snapshot;
  /** The link to the other tabs, while connected. */
  tabs: () => Tabs | undefined;
}

const isMsg = (item: TimelineItem): item is ChatMessage => item.kind === 'msg';
const fromOthers = (item: TimelineItem): item is ChatMessage => isMsg(item) && item.from.role !== 'visitor';

/**
 * The conversation as this tab knows it: the log of stored entries in sequence order, the
 * outbox of the visitor's unacked messages, the drafts of answers still being written, and
 * the read positions. It turns relay frames into the timeline and the unread count, keeps
 * them in storage, and never touches a socket.
 */
export function createConversation({ store, emit, set, snap, tabs }: ConversationDeps) {
  let conv: string | undefined;
  let lastSeq = 0;
  let read = 0;
  let log: TimelineItem[] = [];
  /** Answers still being written (never stored): shown after the log and the outbox. */
  let drafts: ChatMessage[] = [];
  let peerRead = 0; // the other side read the visitor's messages up to here
  /** Feedback the relay has not had yet, the latest per message. */
  let unsent: FeedbackFrame[] = [];

  const outbox = createOutbox([], (items, acked) => {
    set({ timeline: [...log, ...items, ...drafts] });
    // Other tabs share this key: keep what they queued (and this tab has not seen acked),
    // so a message queued offline in a tab that is then closed still survives.
    const theirs = (store.get('out') ?? []).filter((m) => !acked.has(m.id) && !items.some((x) => x.id === m.id));
    store.set('out', [...items, ...theirs]);
  });

  const logged = (id: string) => log.some((i) => i.id === id);
  const top = () => (log.length ? log[log.length - 1]!.seq! : 0);

  const persist = (force?: boolean) => {
    if (!conv) return;
    const rec = store.merge({ conv, seq: lastSeq, read, ntf: 0, items: log.slice(-MAX_STORED_ITEMS) }, force);
    if (rec.conv === conv && rec.read > read) read = rec.read;
  };

  const refreshUnread = () => {
    const n = log.filter((i) => fromOthers(i) && i.seq! > read).length;
    if (n !== snap().unread) set({ unread: n });
  };

  const showTimeline = () => set({ timeline: [...log, ...outbox.items(), ...drafts] });

  /** Apply a conversation event's effect on the snapshot (stored or transient, live or restored). */
  const apply = (ev: ConversationEvent) => {
    switch (ev.type) {
      case 'typing':
        if (ev.from?.role === 'visitor') return; // another tab of this visitor
        set({ typing: ev.on ? (ev.from ?? { role: 'agent' }) : null });
        emit('typing', { on: ev.on, from: ev.from });
        return;
      case 'read':
        if (ev.from?.role === 'visitor') return onRead(conv!, ev.seq);
        if (ev.seq <= peerRead) return;
        peerRead = ev.seq;
        log = log.map((i) => {
          if (!isMsg(i) || i.status !== 'sent' || i.seq! > ev.seq) return i;
          const m: ChatMessage = { ...i, status: 'read' };
          emit('message', m);
          return m;
        });
        showTimeline();
        return persist();
      case 'queue': {
        const queue = ev.position > 0 ? { position: ev.position, etaSec: ev.etaSec } : null;
        if (queue?.etaSec === undefined) delete queue?.etaSec;
        set({ queue });
        return emit('queue', queue);
      }
      case 'agent_joined':
      case 'agent_left': {
        const joined = ev.type === 'agent_joined';
        set({ agent: joined ? ev.agent : null, queue: joined ? null : snap().queue });
        return emit('agent', { agent: ev.agent, joined });
      }
      case 'handoff':
        if (ev.state === 'accepted') set({ queue: null });
        return;
      case 'rating_request':
        return set({ ratingRequested: ev.text === undefined ? {} : { text: ev.text } });
      case 'availability':
        set({ online: ev.online });
        return emit('availability', { online: ev.online });
      case 'closed':
        return set({ closed: true, typing: null, queue: null });
    }
  };

  /** Add a stored entry unless its seq was already seen. Returns whether it was new. */
  const addEntry = (item: TimelineItem): boolean => {
    const seq = item.seq!;
    const last = top();
    if (seq <= last && log.some((i) => i.seq === seq || (isMsg(item) && i.id === item.id))) return false;
    if (seq > last) log = [...log, item];
    else {
      const at = log.findIndex((i) => i.seq! > seq);
      log = [...log.slice(0, at), item, ...log.slice(at)];
    }
    if (isMsg(item)) {
      if (item.from.role !== 'visitor') {
        if (snap().typing) {
          set({ typing: null });
          emit('typing', { on: false, from: item.from });
        }
      } else if (item.body.type === 'rating') set({ ratingRequested: null });
    } else apply(item.event);
    return true;
  };

  const reset = (id: string | undefined) => {
    conv = id;
    lastSeq = read = peerRead = 0;
    log = [];
    drafts = [];
    unsent = [];
    set({ agent: null, typing: null, queue: null, ratingRequested: null, closed: false });
    showTimeline();
    refreshUnread();
  };

  /** The visitor read `c` up to `seq` (here or in another tab). */
  const onRead = (c: string, seq: number) => {
    if (c !== conv || seq <= read) return;
    read = seq;
    refreshUnread();
  };

  const notify = (m: ChatMessage) => {
    const t = tabs();
    if (!t || m.seq! <= read || t.anyVisible()) return;
    const seq = m.seq!;
    const c = conv;
    t.claim(() => {
      const rec = store.get('log');
      if (!c || (rec && rec.conv === c && rec.ntf >= seq)) return;
      store.merge({ conv: c, seq: lastSeq, read, ntf: seq, items: log.slice(-MAX_STORED_ITEMS) });
      emit('notify', m);
    });
  };

  /** A message entered the log: show, store and count it. */
  const done = (m: ChatMessage) => {
    showTimeline();
    persist();
    emit('message', m);
    refreshUnread();
  };

  return {
    outbox,
    conv: () => conv,
    lastSeq: () => lastSeq,
    logged,
    onRead,
    persist,
    reset,

    /** Load what storage holds (the log, the outbox) in place of what this tab held. */
    restore() {
      const rec = store.get('log');
      reset(rec?.conv);
      if (rec && Array.isArray(rec.items)) {
        rec.items.forEach(addEntry);
        lastSeq = rec.seq || 0;
        read = rec.read || 0;
      }
      peerRead = log.reduce((n, i) => (isMsg(i) && i.status === 'read' ? Math.max(n, i.seq!) : n), 0);
      const out = store.get('out');
      outbox.clear();
      if (Array.isArray(out)) outbox.adopt(out, logged);
      refreshUnread();
    },

    /** A verified user's conversation may be another one: replay it from the start. */
    replay() {
      lastSeq = 0;
    },

    ack(f: AckFrame) {
      const m = outbox.ack(f.id, f.seq, f.ts);
      if (m && addEntry(m)) done(m);
    },

    message(f: MsgFrame) {
      const { t: _t, incomplete, ...rest } = f;
      const mine = f.from.role === 'visitor' && outbox.ack(f.id, f.seq, f.ts);
      const m: ChatMessage = mine || { kind: 'msg', ...rest };
      if (incomplete) m.incomplete = true;
      // The finished answer takes the place of its draft.
      drafts = drafts.filter((d) => d.id !== f.id);
      if (f.from.role === 'visitor' && !m.status) m.status = f.seq <= peerRead ? 'read' : 'sent';
      if (f.seq > lastSeq) lastSeq = f.seq;
      if (!addEntry(m)) return;
      done(m);
      if (fromOthers(m)) notify(m);
    },

    event(f: EventFrame) {
      if (f.seq === undefined) return apply(f.event);
      if (f.seq > lastSeq) lastSeq = f.seq;
      const e: ChatEvent = { kind: 'event', id: f.id ?? `e${f.seq}`, seq: f.seq, ts: f.ts, event: f.event };
      if (addEntry(e)) {
        emit('event', e);
        showTimeline();
      }
      persist();
    },

    draft(f: DraftFrame) {
      // Drafts are ephemeral: a gap (offset beyond what is held) waits for the snapshot or
      // the finished message; a draft of a message already logged is late.
      if (logged(f.id)) return;
      const old = drafts.find((d) => d.id === f.id);
      const held = (old?.body as TextBody | undefined)?.text ?? '';
      if (f.offset > held.length) return;
      const text = held.slice(0, f.offset) + f.text;
      if (old && text === held) return;
      const m: ChatMessage = { kind: 'msg', id: f.id, ts: f.ts, from: f.from, body: { type: 'text', text }, draft: true };
      drafts = old ? drafts.map((d) => (d === old ? m : d)) : [...drafts, m];
      showTimeline();
    },

    /**
     * Show the visitor's feedback on a message at once, whenever it reaches the relay: its frame
     * waits for `sendFeedback`, in place of an earlier unsent one on the same message.
     */
    feedback(f: FeedbackFrame) {
      log = log.map((i) => (isMsg(i) && i.id === f.messageId ? { ...i, feedback: f.value } : i));
      unsent = [...unsent.filter((u) => u.messageId !== f.messageId), f];
      showTimeline();
      persist();
    },

    /** Send the feedback the relay has not had through `tx`; what it cannot send waits. */
    sendFeedback(tx: (f: FeedbackFrame) => boolean) {
      unsent = unsent.filter((f) => !tx(f));
    },

    /** Mark everything logged as read; the seq read up to, or 0 when nothing changed. */
    markRead(): number {
      const seq = top();
      if (!conv || seq <= read) return 0;
      read = seq;
      persist();
      refreshUnread();
      return seq;
    },
  };
}
