// The merchant backend of the crash and chaos runs: verifies and records every webhook, and
// answers each visitor message with a numbered reply over the REST API.
import { createServer } from 'node:http';
import { verifyWebhooks } from '@parley/backend';
import { count, sleep } from './util.mjs';

/** The id of the backend's reply to a visitor message: derived from it, so a retried POST is a duplicate, never a second reply. */
export const replyId = (visitorMessageId) => `r-${visitorMessageId}`;
/** The text of the k-th reply of a conversation (k from 1), answering `text`. */
const replyText = (k, text) => `reply ${k} to ${text}`;
/** The reply number in a reply's text, or undefined. */
export const replyNumber = (text) => {
  const m = /^reply (\d+) to /.exec(text ?? '');
  return m ? Number(m[1]) : undefined;
};

/**
 * Start the backend on `host`, port 0. `relayBase()` names the relay each REST attempt goes to
 * (one relay, or a random one of several). A conversation's replies are posted one after the
 * other, numbered in the order their `message.created` first arrived, so the order replies
 * must show in is known; each is retried until it is stored (2xx, or a duplicate) or the
 * backend stops.
 */
export async function startBackend({ host, webhookSecret, apiSecret, relayBase }) {
  /** Every verified delivery in arrival order. */
  const events = [];
  const deliveries = new Map(); // event id (the webhook-id of a single event) → deliveries
  const replies = new Map(); // visitor message id → { k, state: 'pending'|'posted'|'conflict', duplicate }
  const numbers = new Map(); // conversation → replies numbered so far
  const chains = new Map(); // conversation → the promise of its last reply
  const stats = { refused: 0, invalid: 0, restAttempts: 0, restFailures: new Map(), restDuplicates: 0, conflicts: 0, requests: 0, batches: 0, largestBatch: 0 };
  let mode = 'up';
  let stopped = false;
  let port;

  const server = createServer((req, res) => {
    if (mode !== 'up') {
      stats.refused++;
      req.resume();
      res.writeHead(503, { connection: 'close' }).end();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const r = await verifyWebhooks(webhookSecret, req.headers, raw);
      if (!r.ok) {
        stats.invalid++;
        res.writeHead(r.status).end();
        return;
      }
      stats.requests++;
      const webhookId = String(req.headers['webhook-id']);
      if (r.batchId) {
        stats.batches++;
        stats.largestBatch = Math.max(stats.largestBatch, r.events.length);
        if (webhookId !== r.batchId) stats.invalid++; // a batch is signed with its own id
      } else if (webhookId !== r.events[0].id) stats.invalid++; // the docs promise webhook-id === event.id
      res.writeHead(204).end();
      for (const e of r.events) {
        const m = e.data && 'message' in e.data ? e.data.message : undefined;
        // Repeats are told apart by the event id: a batch's own id is new on every attempt.
        events.push({ webhookId: e.id, eventId: e.id, type: e.type, conversationId: e.conversationId, messageId: m?.id, seq: m?.seq, text: m?.body?.type === 'text' ? m.body.text : undefined, at: Date.now() });
        count(deliveries, e.id);
        if (e.type === 'message.created' && m?.body.type === 'text' && !replies.has(m.id)) {
          const k = (numbers.get(e.conversationId) ?? 0) + 1;
          numbers.set(e.conversationId, k);
          const state = { k, state: 'pending', duplicate: false };
          replies.set(m.id, state);
          const prev = chains.get(e.conversationId) ?? Promise.resolve();
          chains.set(e.conversationId, prev.then(() => reply(e.conversationId, m, state)));
        }
      }
    });
  });

  /** Answer a visitor message by REST; the relay may be down, and the id makes retries safe. */
  async function reply(conversationId, m, state) {
    const body = JSON.stringify({ id: replyId(m.id), from: { role: 'bot' }, body: { type: 'text', text: replyText(state.k, m.body.text) } });
    for (let attempt = 0; !stopped; attempt++) {
      stats.restAttempts++;
      try {
        const res = await fetch(`${relayBase()}/v1/conversations/${encodeURIComponent(conversationId)}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiSecret}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(3000),
        });
        const json = await res.json().catch(() => undefined);
        if (res.ok) {
          state.state = 'posted';
          state.duplicate = json?.duplicate === true;
          if (state.duplicate) stats.restDuplicates++;
          return;
        }
        if (res.status === 409) {
          state.state = 'conflict';
          stats.conflicts++;
          return;
        }
        count(stats.restFailures, `HTTP ${res.status}${json?.error?.code ? ` ${json.error.code}` : ''}`);
      } catch (err) {
        count(stats.restFailures, err?.cause?.code ?? err?.name ?? 'error');
      }
      await sleep(Math.min(1000, 100 * 2 ** attempt));
    }
  }

  const listen = () =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port ?? 0, host, () => {
        server.off('error', reject);
        port = server.address().port;
        resolve();
      });
    });
  const close = () =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  await listen();
  return {
    url: `http://${host}:${port}/webhooks/parley`,
    events,
    deliveries,
    replies,
    stats,
    get mode() {
      return mode;
    },
    /** 'up', '503' (answers 503 to everything) or 'closed' (nothing listens: connection refused). */
    async setMode(next) {
      if (next === mode) return;
      if (mode === 'closed') await listen();
      if (next === 'closed') await close();
      mode = next;
    },
    pendingReplies: () => [...replies.values()].filter((r) => r.state === 'pending').length,
    stop() {
      stopped = true;
      return close();
    },
  };
}
