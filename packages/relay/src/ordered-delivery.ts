import { LIMITS, encode, type HistoryResponse, type LogEntry } from '@parley/protocol';
import { entryFrame } from './hub.js';

/** Entries read from the log per page while replaying or filling a gap: the REST history's page, too. */
export const REPLAY_PAGE = LIMITS.maxHistoryPage;

export interface OrderedDeliveryOptions {
  /** Read the conversation's log after a seq. */
  read: (afterSeq: number, limit: number) => Promise<HistoryResponse>;
  /** Send one encoded frame to the socket. */
  send: (text: string) => void;
  /** False once the socket is closing: reading stops. */
  isOpen: () => boolean;
  /** Called for every entry before it is sent (to notice a `closed` event). */
  onEntry?: (entry: LogEntry) => void;
  /** Reading the log failed. */
  onError: (err: unknown) => void;
}

/**
 * Sends a conversation's entries to one socket exactly once each, in seq order, with no gaps:
 * a replay from the client's last seen seq, then live entries. Live entries can arrive out of
 * order or with gaps (several relay instances publish concurrently, pub/sub may drop): an entry
 * past the next expected seq waits while the gap is read from the log; entries already sent are
 * dropped.
 */
export class OrderedDelivery {
  /** Highest seq sent. */
  private sent: number;
  /** While true, live entries wait in `pending` (a replay or gap fill is running). */
  private catching = false;
  private pending: Map<number, { entry: LogEntry; text: string }> | undefined;
  /** A resync came during a catch-up: read the log once more before stopping. */
  private again = false;

  constructor(
    private readonly o: OrderedDeliveryOptions,
    /** The client's last seen seq. */
    afterSeq: number,
  ) {
    this.sent = afterSeq;
    // Live entries that arrive before `start` wait.
    this.catching = true;
  }

  /** Highest seq sent so far. */
  get lastSent(): number {
    return this.sent;
  }

  /**
   * Begin: `first` is the first page read after the client's seq (read after joining the fan-out,
   * so nothing appended meanwhile is missed). Sends it, then the rest of the log and the live
   * entries that arrived meanwhile. A client that claims a seq past the log's end is rewound to it.
   */
  start(first: HistoryResponse): Promise<void> {
    if (this.sent > first.lastSeq) this.sent = first.lastSeq;
    this.sendEntries(first.entries);
    return this.catchUp(first.hasMore);
  }

  /** A live entry from the fan-out, already encoded. */
  live(entry: LogEntry, text: string): void {
    if (entry.seq <= this.sent) return;
    if (this.catching || entry.seq !== this.sent + 1) {
      (this.pending ??= new Map()).set(entry.seq, { entry, text });
      if (!this.catching) void this.catchUp(true);
      return;
    }
    this.o.onEntry?.(entry);
    this.sent = entry.seq;
    this.o.send(text);
  }

  /** Entries may have been missed (the fan-out was interrupted): read the log after the last one sent. */
  resync(): void {
    if (this.catching) this.again = true;
    else void this.catchUp(true);
  }

  /** Forget waiting entries (the socket closed). */
  clear(): void {
    this.pending = undefined;
  }

  /** Send everything after `sent` in order: read the log while `more` says so, then the waiting live entries. */
  private async catchUp(more: boolean): Promise<void> {
    this.catching = true;
    try {
      for (;;) {
        let readNothing = more;
        while (more && this.o.isOpen()) {
          const page = await this.o.read(this.sent, REPLAY_PAGE);
          if (page.entries.length) readNothing = false;
          this.sendEntries(page.entries);
          more = page.hasMore;
        }
        if (!this.o.isOpen()) return;
        if (this.again) {
          this.again = false;
          more = true;
          continue;
        }
        const pending = this.pending;
        if (!pending || pending.size === 0) return;
        for (const seq of [...pending.keys()].sort((a, b) => a - b)) {
          const waiting = pending.get(seq)!;
          // In order; a gap the log could not fill (it read nothing new) is passed over.
          if (seq > this.sent + 1 && !readNothing) break;
          pending.delete(seq);
          if (seq <= this.sent) continue;
          this.o.onEntry?.(waiting.entry);
          this.sent = seq;
          this.o.send(waiting.text);
        }
        if (pending.size === 0) return;
        // A gap remains: it is in the log by now (an entry is published after it commits).
        more = true;
      }
    } catch (err) {
      this.o.onError(err);
    } finally {
      this.catching = false;
    }
  }

  private sendEntries(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      if (entry.seq <= this.sent) continue;
      this.o.onEntry?.(entry);
      this.sent = entry.seq;
      this.o.send(encode(entryFrame(entry)));
    }
  }
}
