import type { Engine, Rate } from './engine/types.js';

/**
 * Failed authentication per client address: a wrong API secret (REST or backend socket), a
 * forged or expired visitor token, a wrong identity signature. Each failure takes a token from
 * the address's bucket in the engine (shared by every relay instance); when a failure finds the
 * bucket empty, the address is blocked on this instance for `blockMs`: every authenticated
 * request from it is refused with 429 `RATE_LIMITED` and `Retry-After` (a hello with
 * `CLOSE.RATE_LIMITED`) before any secret is compared, so a blocked guesser learns nothing, not
 * even from a right guess. Other instances block the address at its next failure there, since
 * the bucket is shared: N instances allow at most N more guesses than one.
 */
export class AuthThrottle {
  private readonly blocked = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    private readonly rate: Rate,
    private readonly blockMs: number,
    private readonly now: () => number,
  ) {}

  /** Milliseconds `ip` stays blocked; 0 when it may try. */
  blockedFor(ip: string): number {
    const until = this.blocked.get(ip);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return left;
    this.blocked.delete(ip);
    return 0;
  }

  /** Record a failure of `ip`; the milliseconds it is now blocked for (0: it may try again). */
  async failed(ip: string): Promise<number> {
    if (await this.engine.takeToken(`authfail:${ip}`, this.rate)) return 0;
    // Blocks lapse by themselves; the map holds only addresses blocked within the last blockMs.
    if (this.blocked.size > 100_000) this.sweep();
    this.blocked.set(ip, this.now() + this.blockMs);
    return this.blockMs;
  }

  private sweep(): void {
    const now = this.now();
    for (const [ip, until] of this.blocked) if (until <= now) this.blocked.delete(ip);
  }
}
