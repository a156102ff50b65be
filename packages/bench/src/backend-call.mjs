// The HTTP call a peer server makes for the bot path: the visitor's message as the relay's
// `message.created` webhook would carry it, POSTed over an undici Pool (keep-alive) to the bench's
// backend, whose JSON answer `{ messages: [...] }` holds the bot's reply.
import { Pool } from 'undici';

/**
 * A keep-alive pool to `backendUrl` (its origin; the path is where each POST goes).
 * `connections` caps the sockets, as the relay's `webhooks.concurrency` does.
 */
export function backendCaller(backendUrl, { connections = 16 } = {}) {
  const url = new URL(backendUrl);
  const pool = new Pool(url.origin, { connections, pipelining: 1 });
  return {
    /** POSTs `event` as JSON; resolves with the reply's messages (none on an empty answer). */
    async ask(event) {
      const res = await pool.request({
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
      });
      if (res.statusCode < 200 || res.statusCode > 299 || res.statusCode === 204) {
        await res.body.dump();
        return [];
      }
      const reply = await res.body.json();
      return Array.isArray(reply?.messages) ? reply.messages : [];
    },
    close: () => pool.close(),
  };
}

/** The event a peer sends for a visitor message: the shape of the relay's `message.created`. */
export function messageCreated(siteKey, conversationId, message) {
  return {
    id: `evt-${message.id}`,
    type: 'message.created',
    createdAt: message.ts,
    siteKey,
    conversationId,
    visitor: { id: `v-${conversationId}` },
    data: { message },
  };
}
