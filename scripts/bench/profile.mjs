// The top functions by self time in a V8 CPU profile (`--cpu-prof`).
import { readFileSync } from 'node:fs';

/** Where a function lives, short: `node_modules/<pkg>/…`, `packages/<pkg>/…`, `node:…`. */
function place(url) {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm);
  const pk = path.indexOf('packages/');
  if (pk >= 0) return path.slice(pk);
  return path;
}

/**
 * Where self time goes, by area: the first area whose test matches a function (its name and its
 * short place) takes it; the last takes the rest.
 */
const AREAS = [
  { name: 'socket writes (`writev`, `write`: the kernel sending to the peer)', test: (fn, at) => !at && /^(writev|write|writeBuffer|writeUtf8String|writeLatin1String)$/.test(fn) },
  { name: 'garbage collection', test: (fn) => fn === '(garbage collector)' },
  { name: 'the event queue (enqueue, claim, lease, complete, retry)', test: (_, at) => /relay\/dist\/(engine\/webhook-queue|webhook-worker)\.js/.test(at) && !/readReply|attempt/.test(_) },
  { name: 'the engine: appends, dedupe, log, fan-out', test: (_, at) => /relay\/dist\/(engine|hub)/.test(at) },
  { name: 'HTTP: the webhook client (undici) and its signature', test: (fn, at) => /node_modules\/undici|webhook-signer|node:internal\/crypto/.test(at) || /^(Hmac|Hash|digest|update)$/.test(fn) || /attempt|readReply/.test(fn) },
  { name: 'validation (zod) and JSON', test: (fn, at) => /node_modules\/zod|protocol\/dist/.test(at) || /^JSON|^(parse|stringify)$/.test(fn) },
  { name: 'WebSocket framing and reading (`ws`, streams)', test: (_, at) => /node_modules\/ws|node:internal\/streams|stream_base_commons|node:net/.test(at) },
  { name: 'the relay: sockets, backend socket, service, metrics', test: (_, at) => /relay\/dist|prom-client/.test(at) },
  { name: 'the rest (Node internals, microtasks, timers)', test: () => true },
];

/**
 * The `n` functions with the most self time in the profile at `file`, idle time left out; each
 * with its share of the busy time. Samples of one function (same name, file and line) are summed.
 * `fromUs` and `toUs` (the process's monotonic clock, `process.hrtime`, in µs: the profile's own
 * clock) keep only the samples taken between them, so start-up and shutdown are left out.
 */
export function topSelfTime(file, n = 10, { fromUs = -Infinity, toUs = Infinity } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  let t = profile.startTime;
  let kept = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    kept++;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  if (kept === 0) throw new Error(`no sample of ${file} between ${fromUs} and ${toUs} µs (profile from ${profile.startTime} to ${profile.endTime})`);
  const byFunction = new Map();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byNode.get(id).callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const where = place(url);
    const key = `${functionName}\u0000${where}\u0000${lineNumber}`;
    const entry = byFunction.get(key) ?? { function: functionName || '(anonymous)', where: where ? `${where}:${lineNumber + 1}` : '', us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const top = [...byFunction.values()].sort((a, b) => b.us - a.us).slice(0, n);
  const areas = new Map(AREAS.map((a) => [a.name, 0]));
  for (const f of byFunction.values()) {
    const area = AREAS.find((a) => a.test(f.function, f.where)) ?? AREAS[AREAS.length - 1];
    areas.set(area.name, areas.get(area.name) + f.us);
  }
  return {
    samples: kept,
    busyMs: Math.round(busy / 1000),
    areas: [...areas].map(([area, us]) => ({ area, selfMs: Math.round(us / 1000), share: Number(((100 * us) / busy).toFixed(1)) })).sort((a, b) => b.selfMs - a.selfMs),
    top: top.map((f) => ({ function: f.function, where: f.where, selfMs: Math.round(f.us / 1000), share: Number(((100 * f.us) / busy).toFixed(1)) })),
  };
}
