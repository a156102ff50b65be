// Proactive triggers, loaded only when the site config has some: the script-tag bundle does not
// carry this code (it is built as dist/parley-triggers.js beside it; npm builds load it as a
// chunk of their own). Plain logic, no Preact: it watches the page and, once every condition of
// a trigger holds, hands the trigger's message to the widget's bubble. It never opens a socket
// and leaves no relay state: a tap on the bubble is the visitor's intent, handled by the widget.
import type { ParleyClient, StorageLike } from '@parley/client';
import type { Greeting, Trigger } from '@parley/protocol';
import type { MountOptions } from './options.js';

const DAY = 864e5;
/** A page view this long after the last one starts a new visit: the visitor is returning. */
const VISIT_GAP = 30 * 60e3;

/** What this browser keeps per site (key `parley:<siteKey>:trg`), only with the visitor's consent. */
interface Kept {
  /** The last page view. */
  at?: number;
  /** The visitor came back after a gap of `VISIT_GAP` or more, on this visit or an earlier one. */
  ret?: boolean;
  /** When each trigger (by id) last showed. */
  shown?: Record<string, number>;
}

/** A URL pattern where `*` stands for any characters, as a RegExp for the whole URL. */
export function urlPattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Whether a page attribute (`data-parley-<name>` on the first element that has it) fits the condition. */
function attrHolds({ name, gte, lte, eq }: NonNullable<Trigger['when']['attr']>): boolean {
  const value = document.querySelector(`[data-parley-${name}]`)?.getAttribute(`data-parley-${name}`);
  if (value == null) return false;
  const n = parseFloat(value);
  return (eq == null || value === eq) && (gte == null || n >= gte) && (lte == null || n <= lte);
}

/**
 * Watch the page for the first of `list` whose conditions all hold and which its frequency cap
 * allows, and `show` its message (at most one per page load; `2` says it is a trigger's). `show`
 * answers false while it cannot show one (the panel is open, a bubble is up): the trigger is
 * tried again. Stops when `signal` aborts (the widget was removed).
 */
export function triggers(list: Trigger[], show: (message: Greeting, trigger: 2) => boolean, options: MountOptions, client: ParleyClient, signal: AbortSignal): void {
  if (signal.aborted) return;
  let storage: StorageLike | null = null;
  try {
    storage = options.storage === undefined ? localStorage : options.storage;
  } catch {
    // access denied: nothing is kept
  }
  const key = `parley:${options.siteKey}:trg`;
  // Only with consent (always, unless `requireConsent`): as the client's own storage.
  const allowed = () => client.getSnapshot().consented;
  const read = (): Kept => {
    try {
      return (allowed() && JSON.parse(storage?.getItem(key) || '{}')) || {};
    } catch {
      return {};
    }
  };
  const write = (kept: Kept) => {
    try {
      if (allowed()) storage?.setItem(key, JSON.stringify(kept));
    } catch {
      // quota, private mode: the cap holds for this page only
    }
  };

  const start = Date.now();
  const kept = read();
  const returning = !!(kept.ret || (kept.at && start - kept.at >= VISIT_GAP));
  write({ ...kept, at: start, ret: returning });

  /**
   * A capped trigger needs storage to keep its promise: without consent it does not show. One
   * with `everyDays: 0` shows on every page load.
   */
  const capped = (t: Trigger) => {
    const days = t.everyDays ?? 1;
    const at = kept.shown?.[t.id];
    return days > 0 && (!allowed() || (at != null && start - at < days * DAY));
  };
  const waiting = list.filter((t) => !capped(t));
  if (!waiting.length) return;

  // Time on page counts from the navigation (the code loads a little later), and again from
  // each route change of a single-page app.
  let since = start - performance.now();
  let href = location.href;
  let depth = 0;
  let leaving = false;
  const holds = ({ afterSec, url, scrollPct, exitIntent, returning: back, attr }: Trigger['when']) =>
    (afterSec == null || Date.now() - since >= afterSec * 1000) &&
    (!url || urlPattern(url).test(/^http/.test(url) ? location.href : location.pathname + location.search)) &&
    (scrollPct == null || depth >= scrollPct) &&
    (!exitIntent || leaving) &&
    (back == null || back === returning) &&
    (!attr || attrHolds(attr));

  const check = () => {
    if (href !== location.href) {
      href = location.href;
      since = Date.now();
    }
    const t = waiting.find((t) => holds(t.when));
    if (!t || !show(t.message, 2)) return;
    const now = read();
    write({ ...now, shown: { ...now.shown, [t.id]: Date.now() } });
    stop.abort();
  };
  const measure = () => {
    const page = document.documentElement.scrollHeight;
    depth = Math.max(depth, page > innerHeight ? ((scrollY + innerHeight) / page) * 100 : 100);
  };

  const stop = new AbortController();
  signal.addEventListener('abort', () => stop.abort());
  const on = { signal: stop.signal, passive: true };
  const timer = setInterval(check, 1000);
  stop.signal.addEventListener('abort', () => clearInterval(timer));
  addEventListener('scroll', () => (measure(), check()), on);
  // The pointer leaving through the top edge, toward the tabs and the address bar. Touch screens
  // have no such move: an exit-intent trigger never fires there.
  document.addEventListener('mouseout', (e) => !e.relatedTarget && e.clientY <= 0 && ((leaving = true), check()), on);
  measure();
  check();
}
