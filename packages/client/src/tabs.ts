/*
 * Multi-tab: every tab keeps its own socket; there is no leader tab.
 *
 * Why a socket per tab rather than one leader tab holding the socket for all:
 * - The relay already fans every message out to every socket of a conversation, so a
 *   message sent in tab A shows in tab B with no forwarding code at all, and each tab's
 *   resume (lastSeq) and outbox work exactly as with a single tab.
 * - There is no leader election or failover to get wrong: a leader that is frozen by the
 *   browser, closed, or crashed would silence every other tab until a new one took over,
 *   and messages in flight through it could be lost or doubled.
 * - The cost is one mostly idle socket per open tab, which the relay handles cheaply.
 *
 * What must not be doubled goes through shared storage and, when available, a
 * BroadcastChannel: the read position (so unread resets in every tab) and the `notify`
 * event, which fires in exactly one tab per sequence number (claimed under a Web Lock when
 * present, else by a compare-and-set in storage) and only while no tab of the site is
 * visible. Without BroadcastChannel, Web Locks or `document` (Node, old browsers) each part
 * degrades on its own: storage still carries the read position and the claim.
 */

/** A tab's link to the other tabs of the same site. */
export interface Tabs {
  /** Tell the other tabs the visitor read `conv` up to `seq`. */
  read(conv: string, seq: number): void;
  /** Whether this tab or any other tab of the site is visible. */
  anyVisible(): boolean;
  /** Run `fire` in one tab only, inside the lock that guards the shared claim. */
  claim(fire: () => void): void;
  close(): void;
}

type Note = { t: 'v'; tab: string; on: boolean; hi?: boolean } | { t: 'r'; conv: string; seq: number };

export function createTabs(siteKey: string, onRead: (conv: string, seq: number) => void, onVisible: (visible: boolean) => void): Tabs {
  const tab = Math.random().toString(36).slice(2);
  const doc = typeof document !== 'undefined' ? document : undefined;
  const visible = () => doc?.visibilityState === 'visible';
  const others = new Set<string>();
  const bc = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(`parley:${siteKey}`) : undefined;
  (bc as { unref?: () => void } | undefined)?.unref?.(); // Node: never keep the process alive
  const post = (note: Note) => {
    try {
      bc?.postMessage(note);
    } catch {
      // closed channel
    }
  };
  const announce = (hi?: boolean, on = visible()) => post({ t: 'v', tab, on, hi });
  if (bc)
    bc.onmessage = ({ data }: MessageEvent<Note>) => {
      if (data?.t === 'r') onRead(data.conv, data.seq);
      if (data?.t === 'v') {
        if (data.on) others.add(data.tab);
        else others.delete(data.tab);
        if (data.hi) announce();
      }
    };
  const onChange = () => {
    announce();
    onVisible(visible());
  };
  const onHide = () => announce(false, false);
  doc?.addEventListener('visibilitychange', onChange);
  if (typeof addEventListener === 'function') addEventListener('pagehide', onHide);
  announce(true);

  return {
    read: (conv, seq) => post({ t: 'r', conv, seq }),
    anyVisible: () => visible() || others.size > 0,
    claim(fire) {
      const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
      if (locks) void locks.request(`parley:${siteKey}:notify`, fire).catch(() => undefined);
      else fire();
    },
    close() {
      onHide();
      doc?.removeEventListener('visibilitychange', onChange);
      if (typeof removeEventListener === 'function') removeEventListener('pagehide', onHide);
      bc?.close();
    },
  };
}
