import type { LimitsConfig } from './config.js';
import { takeToken, type Rate, type TokenBucket } from './token-bucket.js';

/** What a socket's guard tells the connection to do with a frame. */
export type Verdict = 'ok' | 'drop' | 'warn' | 'close';

/**
 * One socket's frame budget: a token bucket, strikes for frames sent while out of tokens, and a
 * count of invalid frames. The first refused frame gets a warning; persisting gets the socket closed.
 */
export class SocketGuard implements TokenBucket {
  /** The bucket, held in the guard itself (one object per socket, not two). */
  tokens: number;
  at: number;
  private strikes = 0;
  private invalid = 0;
  /** Typing frames' own bucket (`typingRateLimit`), made full at the first typing frame (most widgets never send one). */
  private typingBucket: TokenBucket | undefined;

  constructor(
    private readonly limits: Pick<LimitsConfig, 'rateLimit' | 'rateLimitStrikes' | 'maxInvalidFrames' | 'typingRateLimit'>,
    now: number,
  ) {
    this.tokens = limits.rateLimit.burst;
    this.at = now;
  }

  /** A typing frame arrived: true when its own bucket pays for it (it then spends none of the frame tokens). */
  typing(now: number): boolean {
    this.typingBucket ??= { tokens: this.limits.typingRateLimit.burst, at: now };
    return takeToken(this.typingBucket, now, this.limits.typingRateLimit);
  }

  /** A frame arrived: `ok` to handle it, `warn` (first refusal: tell the client) or `drop` to drop it, `close` to close the socket. */
  frame(now: number): Verdict {
    if (takeToken(this, now, this.limits.rateLimit)) {
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

/** The per-IP rate of new visitors from the limits config. */
export function newVisitorRate(limits: Pick<LimitsConfig, 'newVisitorsPerIpPerMinute'>): Rate {
  return { perSecond: limits.newVisitorsPerIpPerMinute / 60, burst: limits.newVisitorsPerIpPerMinute };
}
