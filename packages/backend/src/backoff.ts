/**
 * Delay before reconnect attempt `attempt` (0-based): "full jitter" between `minMs` and a
 * cap that doubles per attempt up to `maxMs`. Pure: randomness comes from `random`.
 */
export function backoff(attempt: number, random: () => number, minMs = 500, maxMs = 20_000): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(attempt + 1, 30));
  return Math.round(minMs + random() * Math.max(0, cap - minMs));
}
