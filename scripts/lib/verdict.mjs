// The verdict of a crash or chaos run: from what every widget saw (its report), what the relay
// stored (history read back by REST) and what the backend received, count what was lost,
// duplicated and reordered, in both directions:
// - visitor → backend: every acked visitor message is stored once, in send order, shown, and its
//   `message.created` reached the backend, in seq order per conversation;
// - backend → visitor: every reply is stored once and shown once, in the order it was posted,
//   and the screen shows entries in seq order with the seqs the relay stored.
import { replyId, replyNumber } from './backend.mjs';
import { count } from './util.mjs';

/**
 * `widgets`: widget reports (lib/widget.mjs); `history`: conversation id → `{ entries }` or
 * `{ status }`; `backend`: the recording backend (lib/backend.mjs).
 */
export function verdict({ widgets, history, backend }) {
  const r = {
    sent: 0,
    acked: 0,
    lost: { total: 0, neverAcked: 0, ackedNotInHistory: 0, ackedNotOnScreen: 0, webhookNeverDelivered: 0, replyNeverShown: 0, replyNotInHistory: 0 },
    duplicatedOnScreen: 0,
    duplicatedInHistory: 0,
    rawDuplicates: { msgFrames: 0, ownMsgFrames: 0, replyMsgFrames: 0, webhooks: 0, webhooksAfterALaterEvent: 0, restReplies: 0 },
    reordered: { total: 0, timeline: 0, history: 0, ownSendOrder: 0, ackSeqMismatch: 0, webhookOrder: 0, startedNotFirst: 0, replyOrder: 0, shownSeqMismatch: 0 },
    webhooks: { received: backend.events.length, unique: backend.deliveries.size, byType: {}, refusedWhileDown: backend.stats.refused, invalidSignature: backend.stats.invalid, requests: backend.stats.requests, batches: backend.stats.batches, largestBatch: backend.stats.largestBatch },
    replies: { expected: 0, posted: 0, shown: 0, shownTwice: 0, restAttempts: backend.stats.restAttempts, restFailures: Object.fromEntries(backend.stats.restFailures), conflicts: backend.stats.conflicts },
    reconnects: 0,
    socketsOpened: 0,
    invalidFrames: 0,
    conversationChanges: 0,
    resets: 0,
    clientErrors: {},
    examples: [],
  };
  // Duplicates split by direction (own visitor messages vs replies).
  const dup = { screen: { toBackend: 0, toVisitor: 0 }, history: { toBackend: 0, toVisitor: 0 } };
  const example = (s) => r.examples.length < 12 && r.examples.push(s);
  const entriesOf = (id) => history.get(id)?.entries;
  const statusOf = (id) => {
    const h = history.get(id);
    return h?.status ? ` (${typeof h.status === 'number' ? `HTTP ${h.status}` : h.status})` : '';
  };
  const textOf = (item) => (item.kind === 'msg' ? (item.text ?? (item.body?.type === 'text' ? item.body.text : undefined)) : undefined);
  const roleOf = (item) => item.role ?? item.from?.role;

  for (const w of widgets) {
    const acked = new Map(w.acked);
    const failed = new Set(w.failed);
    const sentById = new Map(w.sent.map((s) => [s.id, s]));
    r.sent += w.sent.length;
    r.acked += acked.size;
    r.reconnects += Math.max(0, w.welcomes - 1);
    r.socketsOpened += w.sockets;
    r.invalidFrames += w.badFrames;
    r.conversationChanges += Math.max(0, w.conversations.length - 1);
    r.resets += w.resets;
    for (const [code, n] of w.errors) r.clientErrors[code] = (r.clientErrors[code] ?? 0) + n;
    r.rawDuplicates.ownMsgFrames += w.msgFrameDuplicates.own;
    r.rawDuplicates.replyMsgFrames += w.msgFrameDuplicates.others;

    const timeline = w.timeline;
    const onScreen = new Set(timeline.map((item) => item.id));
    for (const s of w.sent) {
      const a = acked.get(s.id);
      if (!a) {
        r.lost.neverAcked++;
        example(`w${w.i}: "${s.text}" never acked (${failed.has(s.id) ? 'failed' : 'still sending'})`);
        continue;
      }
      const entries = entriesOf(a.conversationId);
      const stored = (entries ?? []).filter((e) => e.kind === 'msg' && e.id === s.id);
      if (stored.length && stored[0].seq !== a.seq) {
        r.reordered.ackSeqMismatch++;
        example(`w${w.i}: "${s.text}" acked with seq ${a.seq}, stored with seq ${stored[0].seq}`);
      }
      if (stored.length === 0) {
        r.lost.ackedNotInHistory++;
        example(`w${w.i}: "${s.text}" acked with seq ${a.seq} in ${a.conversationId}, missing from its history${statusOf(a.conversationId)}`);
      }
      if (!onScreen.has(s.id)) {
        r.lost.ackedNotOnScreen++;
        example(`w${w.i}: "${s.text}" acked with seq ${a.seq}, not on the widget's screen`);
      }
    }

    // On screen: the same id twice, or the same text under two ids.
    const ids = new Map();
    const texts = new Map();
    const visitorText = new Set();
    for (const item of timeline) {
      count(ids, item.id);
      const t = textOf(item);
      if (t !== undefined) (texts.get(t) ?? texts.set(t, new Set()).get(t)).add(item.id);
      if (t !== undefined && roleOf(item) === 'visitor') visitorText.add(t);
    }
    for (const [id, n] of ids) {
      if (n < 2) continue;
      r.duplicatedOnScreen += n - 1;
      dup.screen[sentById.has(id) ? 'toBackend' : 'toVisitor'] += n - 1;
      example(`w${w.i}: id ${id} shown ${n} times`);
    }
    for (const [t, set] of texts) {
      if (set.size < 2) continue;
      r.duplicatedOnScreen += set.size - 1;
      dup.screen[visitorText.has(t) ? 'toBackend' : 'toVisitor'] += set.size - 1;
      example(`w${w.i}: "${t}" shown under ${set.size} ids`);
    }

    // Replies: each acked visitor message gets a reply whose id derives from it, stored and shown once.
    for (const s of w.sent) {
      const a = acked.get(s.id);
      if (!a) continue;
      r.replies.expected++;
      const rid = replyId(s.id);
      const n = ids.get(rid) ?? 0;
      if (n === 0) {
        r.lost.replyNeverShown++;
        example(`w${w.i}: no reply to "${s.text}" on screen`);
      } else r.replies.shown++;
      if (n > 1) r.replies.shownTwice++;
      const entries = entriesOf(a.conversationId);
      if (entries && !entries.some((e) => e.id === rid)) {
        r.lost.replyNotInHistory++;
        example(`w${w.i}: the reply to "${s.text}" is missing from ${a.conversationId}'s history`);
      }
    }

    // Order on screen: seqs strictly increasing, nothing unacked before an acked entry, the seqs
    // the relay stored, and replies in the order the backend numbered them.
    let prev = 0;
    let bad = false;
    for (const item of timeline) {
      if (item.seq === undefined) prev = Infinity;
      else if (!(item.seq > prev)) bad = true;
      else prev = item.seq;
    }
    if (bad) (r.reordered.timeline++, example(`w${w.i}: timeline not in seq order: ${timeline.map((t) => t.seq).join(',')}`));
    const storedSeq = new Map();
    for (const c of w.conversations) for (const e of entriesOf(c) ?? []) storedSeq.set(e.id, e.seq);
    for (const item of timeline) {
      if (item.seq === undefined || !storedSeq.has(item.id) || storedSeq.get(item.id) === item.seq) continue;
      r.reordered.shownSeqMismatch++;
      example(`w${w.i}: ${item.id} shown with seq ${item.seq}, stored with seq ${storedSeq.get(item.id)}`);
    }
    const replyOrder = (list) => {
      const ks = list.filter((item) => item.kind === 'msg' && roleOf(item) !== 'visitor').map((item) => replyNumber(textOf(item))).filter((k) => k !== undefined);
      return ks.every((k, j) => j === 0 || k > ks[j - 1]);
    };
    if (!replyOrder(timeline)) (r.reordered.replyOrder++, example(`w${w.i}: replies out of order on screen`));
    // The widget's own messages in the order it sent them, on screen and in the log.
    const ownOrder = (list) => list.filter((item) => item.kind === 'msg' && sentById.has(item.id)).map((item) => sentById.get(item.id).n);
    const inOrder = (ns) => ns.every((n, k) => k === 0 || n > ns[k - 1]);
    const sendOrder = (list) => inOrder(ownOrder(list));
    // What happened to each message that overtook or was overtaken: sent, refused, acked.
    const firstSeen = new Map(w.firstSeen ?? []);
    const story = (ns) => {
      const t0 = w.sent[0]?.at ?? 0;
      const out = [];
      ns.forEach((n, k) => {
        if (inOrder(ns.slice(Math.max(0, k - 1), k + 2))) return;
        const s = w.sent.find((x) => x.n === n);
        if (!s) return;
        const refusals = (w.errorFrames ?? []).filter((e) => e.id === s.id).map((e) => `${e.code} from relay ${e.relay} at +${e.at - t0} ms`);
        out.push(`"${s.text}" (${s.id}) sent at +${s.at - t0} ms${refusals.length ? `, refused ${refusals.join(', ')}` : ''}, acked seq ${acked.get(s.id)?.seq} at +${(firstSeen.get(s.id) ?? NaN) - t0} ms`);
      });
      return out.length ? `: ${out.join('; ')}` : '';
    };
    if (!sendOrder(timeline)) (r.reordered.ownSendOrder++, example(`w${w.i}: own messages out of send order on screen (${ownOrder(timeline).join(',')})`));
    const convs = new Set([...acked.values()].map((a) => a.conversationId).filter(Boolean));
    for (const c of convs) {
      const entries = entriesOf(c) ?? [];
      if (!sendOrder(entries)) (r.reordered.ownSendOrder++, example(`w${w.i}: own messages out of send order in ${c}'s history (${ownOrder(entries).join(',')})${story(ownOrder(entries))}`));
      if (!replyOrder(entries)) (r.reordered.replyOrder++, example(`w${w.i}: replies out of order in ${c}'s history`));
    }
  }
  r.rawDuplicates.msgFrames = r.rawDuplicates.ownMsgFrames + r.rawDuplicates.replyMsgFrames;

  for (const [id, h] of history) {
    if (!h.entries) continue;
    const seqs = h.entries.map((e) => e.seq);
    if (!seqs.every((s, k) => k === 0 || s > seqs[k - 1])) (r.reordered.history++, example(`${id}: history seqs not increasing`));
    const ids = new Map();
    const texts = new Map();
    const visitorIds = new Set();
    for (const e of h.entries) {
      count(ids, e.id);
      if (e.kind === 'msg' && roleOf(e) === 'visitor') visitorIds.add(e.id);
      const t = textOf(e);
      if (t !== undefined) (texts.get(t) ?? texts.set(t, new Set()).get(t)).add(e.id);
    }
    for (const [mid, n] of ids) if (n > 1) (r.duplicatedInHistory += n - 1), (dup.history[visitorIds.has(mid) ? 'toBackend' : 'toVisitor'] += n - 1), example(`${id}: id ${mid} stored ${n} times`);
    for (const [t, set] of texts) if (set.size > 1) (r.duplicatedInHistory += set.size - 1), (dup.history[[...set].some((x) => visitorIds.has(x)) ? 'toBackend' : 'toVisitor'] += set.size - 1), example(`${id}: "${t}" stored under ${set.size} ids`);
  }

  // Webhooks: the first delivery of each webhook-id, per conversation, in arrival order.
  const delivered = new Set(backend.events.filter((e) => e.type === 'message.created').map((e) => e.messageId));
  for (const w of widgets) {
    const acked = new Map(w.acked);
    for (const s of w.sent) if (acked.has(s.id) && !delivered.has(s.id)) (r.lost.webhookNeverDelivered++, example(`w${w.i}: no message.created for "${s.text}"`));
  }
  for (const n of backend.deliveries.values()) r.rawDuplicates.webhooks += n - 1;
  const firsts = new Map(); // conversation → first deliveries
  const seen = new Set();
  const latestSeq = new Map(); // conversation → highest seq delivered so far
  for (const e of backend.events) {
    r.webhooks.byType[e.type] = (r.webhooks.byType[e.type] ?? 0) + 1;
    if (seen.has(e.webhookId)) {
      // At-least-once allows a redelivery; one that arrives after a later event of its
      // conversation was delivered is counted apart (a lease that expired under a slow attempt).
      if (e.seq !== undefined && e.seq < (latestSeq.get(e.conversationId) ?? 0)) r.rawDuplicates.webhooksAfterALaterEvent++;
      continue;
    }
    seen.add(e.webhookId);
    if (e.seq !== undefined) latestSeq.set(e.conversationId, Math.max(e.seq, latestSeq.get(e.conversationId) ?? 0));
    (firsts.get(e.conversationId) ?? firsts.set(e.conversationId, []).get(e.conversationId)).push(e);
  }
  for (const [c, list] of firsts) {
    if (list[0].type !== 'conversation.started' || list.filter((e) => e.type === 'conversation.started').length !== 1) {
      r.reordered.startedNotFirst++;
      example(`${c}: webhooks began ${list.slice(0, 3).map((e) => e.type).join(', ')}`);
    }
    const seqs = list.filter((e) => e.seq !== undefined).map((e) => e.seq);
    if (!seqs.every((s, k) => k === 0 || s > seqs[k - 1])) (r.reordered.webhookOrder++, example(`${c}: webhook seqs arrived ${seqs.join(',')}`));
  }
  r.rawDuplicates.restReplies = backend.stats.restDuplicates;
  r.replies.posted = [...backend.replies.values()].filter((x) => x.state === 'posted').length;

  const L = r.lost;
  const O = r.reordered;
  const D = r.rawDuplicates;
  L.total = L.neverAcked + L.ackedNotInHistory + L.ackedNotOnScreen + L.webhookNeverDelivered + L.replyNeverShown + L.replyNotInHistory;
  O.total = O.timeline + O.history + O.ownSendOrder + O.ackSeqMismatch + O.webhookOrder + O.startedNotFirst + O.replyOrder + O.shownSeqMismatch;
  r.directions = {
    toBackend: {
      lost: L.neverAcked + L.ackedNotInHistory + L.ackedNotOnScreen + L.webhookNeverDelivered,
      duplicatedOnScreen: dup.screen.toBackend,
      duplicatedInHistory: dup.history.toBackend,
      rawDuplicates: D.ownMsgFrames + D.webhooks,
      reordered: O.history + O.ownSendOrder + O.ackSeqMismatch + O.webhookOrder + O.startedNotFirst,
    },
    toVisitor: {
      lost: L.replyNeverShown + L.replyNotInHistory,
      duplicatedOnScreen: dup.screen.toVisitor,
      duplicatedInHistory: dup.history.toVisitor,
      rawDuplicates: D.replyMsgFrames + D.restReplies,
      reordered: O.timeline + O.replyOrder + O.shownSeqMismatch,
    },
  };
  return r;
}

/** The verdict's lines for one direction, `lost: N (…)` first. */
export function directionLines(r, which) {
  const d = r.directions[which];
  const L = r.lost;
  const O = r.reordered;
  const D = r.rawDuplicates;
  if (which === 'toBackend') {
    return [
      `lost: ${d.lost} (never acked ${L.neverAcked}, acked but missing from history ${L.ackedNotInHistory}, acked but not on screen ${L.ackedNotOnScreen}, message.created never delivered ${L.webhookNeverDelivered})`,
      `duplicated on screen: ${d.duplicatedOnScreen}`,
      `duplicated in history: ${d.duplicatedInHistory}`,
      `raw duplicates on the wire (allowed, at-least-once): ${d.rawDuplicates} (${D.ownMsgFrames} echoes of own messages dropped by the client's dedupe, ${D.webhooks} webhook redeliveries, of which ${D.webhooksAfterALaterEvent} after a later event of the conversation)`,
      `reordered: ${d.reordered} (history ${O.history}, own send order ${O.ownSendOrder}, ack seq ≠ stored seq ${O.ackSeqMismatch}, webhook order ${O.webhookOrder}, conversation.started not first ${O.startedNotFirst})`,
    ];
  }
  return [
    `lost: ${d.lost} (reply never shown ${L.replyNeverShown}, reply missing from history ${L.replyNotInHistory})`,
    `duplicated on screen: ${d.duplicatedOnScreen}`,
    `duplicated in history: ${d.duplicatedInHistory}`,
    `raw duplicates on the wire (allowed, at-least-once): ${d.rawDuplicates} (${D.replyMsgFrames} reply frames redelivered and dropped by the client's dedupe, ${D.restReplies} REST replies answered as duplicates)`,
    `reordered: ${d.reordered} (timeline not in seq order ${O.timeline}, replies out of posting order ${O.replyOrder}, shown seq ≠ stored seq ${O.shownSeqMismatch})`,
  ];
}
