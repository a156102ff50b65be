// Percentiles, rounding and ratios for the side-by-side bench.

/** The p-quantile (0–1) of `sorted` by nearest rank; NaN when empty. */
function quantile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export const round = (x, d) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
/** a / b to three significant figures; null when either is missing. */
export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? Number((a / b).toPrecision(3)) : null);

/** p50, p99 and max of `values` (ms), to 3 decimals. */
export function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  return { n: sorted.length, p50: round(quantile(sorted, 0.5), 3), p99: round(quantile(sorted, 0.99), 3), max: round(sorted[sorted.length - 1], 3) };
}

/** The load windows of every round as one figure: messages summed over CPU time summed, latencies pooled; each round's rate beside it. */
export function combineWindows(windows) {
  const sum = (f) => windows.reduce((acc, w) => acc + f(w), 0);
  const messages = sum((w) => w.messages);
  const wall = sum((w) => w.wall);
  const cpu = sum((w) => w.cpu);
  const cpuWindow = sum((w) => w.cpuWindow);
  return {
    rounds: windows.length,
    messages,
    perCpuSec: Math.round(messages / cpu),
    perCpuSecByRound: windows.map((w) => Math.round(w.messages / w.cpu)),
    perCpuSecWindowOnly: Math.round(messages / cpuWindow),
    perSec: Math.round(messages / wall),
    serverCpuSec: round(cpu, 3),
    cores: round(cpuWindow / wall, 2),
    backendCpuMsPerMessage: round((sum((w) => w.backendCpu) * 1000) / messages, 3),
    // Read and write syscalls of the server per message (Linux), when every window has them.
    ...(windows.every((w) => w.syscalls)
      ? { readsPerMessage: round(sum((w) => w.syscalls.reads) / messages, 2), writesPerMessage: round(sum((w) => w.syscalls.writes) / messages, 2) }
      : {}),
    drainMs: Math.round(sum((w) => w.drainMs)),
    drained: windows.every((w) => w.drained),
    ...percentiles(windows.flatMap((w) => w.latencies)),
  };
}
