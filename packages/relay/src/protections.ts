import type { LimitsConfig } from './config.js';
import { takeToken, type Rate, type TokenBucket } from './token-bucket.js';

/** What a socket's guard tells the connection to do with a frame. */
export type Verdict = 'ok' | 'drop' | 'warn' | 'close';

/**
 * One socket's frame budget: a token bucket, strikes for frames sent while out of tokens, and a
 * count of invalid frames. The first refused frame gets a warning; persisting gets the socket closed.
 */
export class SocketGuard {
  private readonly bucket: TokenBucket;
  private strikes = 0;
  private invalid = 0;

  constructor(
    private readonly limits: Pick<LimitsConfig, 'rateLimit' | 'rateLimitStrikes' | 'maxInvalidFrames'>,
    now: number,
  ) {
    this.bucket = { tokens: limits.rateLimit.burst, at: now };
  }

  /** A frame arrived: `ok` to handle it, `warn` (first refusal: tell the client) or `drop` to drop it, `close` to close the socket. */
  frame(now: number): Verdict {
    if (takeToken(this.bucket, now, this.limits.rateLimit)) {
      this.strikes = 0;
      return 'ok';
    }
    this.strikes++;
    if (this.strikes > this.limits.rateLimitStrikes) return 'close';
    return this.strikes === 1 ? 'warn' : 'drop';
  }

  /** A frame after hello was invalid: `warn` with an error frame, or `close` once they pile up. */
  invalidFrame(): Exclude<Verdict, 'ok' | 'drop'> {
    this.invalid++;
    return this.invalid >= this.limits.maxInvalidFrames ? 'close' : 'warn';
  }
}

/**
 * Token buckets per client address, for admissions that cost the relay something (a new visitor
 * token). Buckets that have refilled are forgotten by `sweep`, so the map holds only addresses
 * that were active within the last refill period.
 */
export class PerIpLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly rate: Rate) {}

  /** Take a token for `ip`; false when its bucket is empty. */
  take(ip: string, now: number): boolean {
    let bucket = this.buckets.get(ip);
    if (!bucket) this.buckets.set(ip, (bucket = { tokens: this.rate.burst, at: now }));
    return takeToken(bucket, now, this.rate);
  }

  /** Forget the addresses whose bucket is full again. */
  sweep(now: number): void {
    for (const [ip, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.rate.perSecond) / 1000 >= this.rate.burst) this.buckets.delete(ip);
    }
  }

  /** Addresses tracked (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }
}

/** The per-IP rate of new visitors from the limits config. */
export function newVisitorRate(limits: Pick<LimitsConfig, 'newVisitorsPerIpPerMinute'>): Rate {
  return { perSecond: limits.newVisitorsPerIpPerMinute / 60, burst: limits.newVisitorsPerIpPerMinute };
}
