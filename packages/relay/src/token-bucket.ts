/** A token bucket: `tokens` left as of `at` (ms). */
export interface TokenBucket {
  tokens: number;
  at: number;
}

/** A bucket's rate: `perSecond` tokens come back each second, up to `burst`. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** Refill `bucket` for the time since `at`, then take one token; false when none is left. */
export function takeToken(bucket: TokenBucket, now: number, { perSecond, burst }: Rate): boolean {
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}
