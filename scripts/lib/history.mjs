// Reading back what the relay stored, through the backend REST API.

/** A conversation's whole history as `{ entries }`, or `{ status }` when it could not be read. */
async function readHistory(base, apiSecret, id) {
  const entries = [];
  let after = 0;
  for (;;) {
    let res;
    try {
      res = await fetch(`${base}/v1/conversations/${encodeURIComponent(id)}/messages?after=${after}&limit=200`, {
        headers: { authorization: `Bearer ${apiSecret}` },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      return { status: err?.cause?.code ?? err?.name ?? 'unreachable' };
    }
    if (!res.ok) return { status: res.status };
    const page = await res.json();
    entries.push(...page.entries);
    if (!page.hasMore || page.entries.length === 0) return { entries };
    after = page.entries[page.entries.length - 1].seq;
  }
}

/** Every conversation of `ids`, `concurrency` at a time; `baseFor(id)` names the relay each is read from. */
export async function readHistories({ ids, baseFor, apiSecret, concurrency = 8 }) {
  const history = new Map();
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) history.set(id, await readHistory(baseFor(id), apiSecret, id));
    }),
  );
  return history;
}
