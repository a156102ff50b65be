// A simulated widget: the real @parley/client over `ws`, with its own in-memory storage (as one
// browser profile keeps its token, outbox and lastSeq), and every frame it receives counted on
// the wire before the client sees it.
import WebSocket from 'ws';
import { createClient } from '@parley/client';
import { decodeServerFrame } from '@parley/protocol';
import { count, memoryStorage } from './util.mjs';

// Each simulated widget stands for a separate browser profile, so widgets must not share a
// BroadcastChannel. Node has a process-wide one keyed by name: every widget of the site would
// hear every other's notes, and each new client's hello is answered by all the others (with 250
// widgets in a process that stalls its event loop for seconds). Without it the client uses
// storage alone for what tabs share, as it does in browsers without BroadcastChannel.
globalThis.BroadcastChannel = undefined;

/**
 * Start widget `i` against `relays` (base URLs). `pick(previous)` chooses the relay of each new
 * socket from the index of the previous one (undefined for the first socket); by default every
 * socket goes to relay 0.
 */
export function startWidget({ i, relays, random, siteKey, origin, pick = () => 0 }) {
  const w = {
    i,
    /** In send order: { id, n, text }. */
    sent: [],
    sentById: new Map(),
    /** id → { seq, conversationId } as the client reported it sent. */
    acked: new Map(),
    failed: new Set(),
    conversationId: undefined,
    conversations: new Set(),
    sockets: 0,
    welcomes: 0,
    resets: 0,
    msgFrames: new Map(), // msg id → frames received, over every socket
    badFrames: 0,
    errors: new Map(),
    /** Error frames that named a message: { id, code, at, relay } (the first 50). */
    errorFrames: [],
    /** Every socket: { relay, createdAt, openAt, welcomeAt, conversationId, closeAt }. */
    connections: [],
    lastWelcomeAt: 0,
    /** Entry id → when a frame (ack, msg or event) first carried it, over every socket. */
    firstSeen: new Map(),
    framesByRelay: new Map(),
    client: undefined,
  };
  let relay;
  const seen = (id, at) => id !== undefined && !w.firstSeen.has(id) && w.firstSeen.set(id, at);
  w.client = createClient({
    siteKey,
    relayUrl: relays[0],
    storage: memoryStorage(),
    random,
    // Shorter than a browser's 500 ms – 20 s so the run stays short; the state machine is the same.
    backoff: { minMs: 200, maxMs: 2000 },
    page: () => ({ url: `https://shop.example/products/${i}`, title: `Product ${i}` }),
    createSocket: (url) => {
      w.sockets++;
      relay = pick(relay);
      const r = relay;
      const u = new URL(url);
      const target = new URL(relays[r]);
      u.host = target.host;
      const conn = { relay: r, createdAt: Date.now(), openAt: undefined, welcomeAt: undefined, conversationId: undefined, closeAt: undefined };
      w.connections.push(conn);
      const ws = new WebSocket(u.href, { origin });
      ws.on('open', () => (conn.openAt = Date.now()));
      ws.on('close', () => (conn.closeAt = Date.now()));
      // Added before the client's onmessage, so it sees every frame first.
      ws.on('message', (data) => {
        const now = Date.now();
        count(w.framesByRelay, r);
        const d = decodeServerFrame(data.toString());
        if (!d.ok) return void w.badFrames++;
        const f = d.frame;
        if (f.t === 'welcome') {
          w.welcomes++;
          conn.welcomeAt = w.lastWelcomeAt = now;
          conn.conversationId = f.conversationId;
          if (f.reset) w.resets++;
          w.conversationId = f.conversationId;
          w.conversations.add(f.conversationId);
        } else if (f.t === 'msg') {
          count(w.msgFrames, f.id);
          seen(f.id, now);
        } else if (f.t === 'ack') seen(f.id, now);
        else if (f.t === 'error' && f.id !== undefined && w.errorFrames.length < 50) w.errorFrames.push({ id: f.id, code: f.code, at: now, relay: r });
        else if (f.t === 'event' && f.seq !== undefined) seen(f.id ?? `e${f.seq}`, now);
      });
      ws.on('error', () => {});
      return ws;
    },
  });
  w.client.on('message', (m) => {
    if (m.from.role !== 'visitor' || !w.sentById.has(m.id)) return;
    if (m.seq !== undefined && (m.status === 'sent' || m.status === 'read') && !w.acked.has(m.id)) {
      w.acked.set(m.id, { seq: m.seq, conversationId: w.conversationId });
    }
    if (m.status === 'failed') w.failed.add(m.id);
  });
  w.client.on('error', (e) => count(w.errors, e.code));
  w.send = (n) => {
    const text = `w${i}-${n}`;
    const m = w.client.send(text);
    const rec = { id: m.id, n, text, at: Date.now() };
    w.sent.push(rec);
    w.sentById.set(m.id, rec);
  };
  /** The widget's observations as plain data (for IPC and the verdict). */
  w.report = () => {
    let ownDupes = 0;
    let otherDupes = 0;
    for (const [id, n] of w.msgFrames) {
      if (w.sentById.has(id)) ownDupes += n - 1;
      else otherDupes += n - 1;
    }
    return {
      i,
      sent: w.sent,
      acked: [...w.acked],
      failed: [...w.failed],
      conversationId: w.conversationId,
      conversations: [...w.conversations],
      sockets: w.sockets,
      welcomes: w.welcomes,
      resets: w.resets,
      msgFrameDuplicates: { own: ownDupes, others: otherDupes },
      badFrames: w.badFrames,
      errors: [...w.errors],
      errorFrames: w.errorFrames,
      connections: w.connections,
      firstSeen: [...w.firstSeen],
      framesByRelay: [...w.framesByRelay],
      timeline: w.client.getSnapshot().timeline.map(plainItem),
    };
  };
  w.client.connect();
  return w;
}

/** A timeline item reduced to what the verdict reads. */
function plainItem(item) {
  return item.kind === 'msg'
    ? { kind: 'msg', id: item.id, seq: item.seq, role: item.from.role, text: item.body.type === 'text' ? item.body.text : undefined, status: item.status }
    : { kind: item.kind, id: item.id, seq: item.seq };
}
