import type { Rate } from './engine/types.js';

export type { Rate };

/** A token bucket: `tokens` left as of `at` (ms). */
export interface TokenBucket {
  tokens: number;
  at: number;
}

/** Refill `bucket` for the time since `at`, then take one token; false when none is left. */
export function takeToken(bucket: TokenBucket, now: number, { perSecond, burst }: Rate): boolean {
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

/**
 * Named token buckets in this process, for engines that serve one relay instance. Buckets that
 * have refilled are forgotten by `sweep`, so the map holds only keys active within one refill.
 */
export class LocalBuckets {
  private readonly buckets = new Map<string, { bucket: TokenBucket; rate: Rate }>();

  /** Take a token from `key`'s bucket; false when it is empty. */
  take(key: string, rate: Rate, now: number): boolean {
    let entry = this.buckets.get(key);
    if (!entry) this.buckets.set(key, (entry = { bucket: { tokens: rate.burst, at: now }, rate }));
    return takeToken(entry.bucket, now, rate);
  }

  /** Forget the buckets that are full again. */
  sweep(now: number): void {
    for (const [key, { bucket, rate }] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) * rate.perSecond) / 1000 >= rate.burst) this.buckets.delete(key);
    }
  }

  /** Buckets held (for tests). */
  get size(): number {
    return this.buckets.size;
  }
}
