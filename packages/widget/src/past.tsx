import type { PastConversation } from '@parley/protocol';
import { Timeline } from './timeline.js';
import type { View } from './view.js';

/** Focuses a control once, when it appears. */
const focus = (el: HTMLElement | null) => el?.focus();

/** Show the list of the visitor's past conversations (the header's button), asked of the relay now. */
export function showPast(v: View) {
  v.set({ past: {} });
  v.c.pastConversations().then(
    (l) => v.ui.past && v.set({ past: { l } }),
    () => v.set({ past: undefined }),
  );
}

/**
 * The visitor's past conversations in place of the chat (styles.ts hides what follows it in the
 * panel): a list of them (date and preview, newest first), or one of them read-only (its messages
 * without buttons), with Back. Back lands on the list, from there on the chat.
 */
export function Past({ v }: { v: View }) {
  const { t } = v;
  const p = v.ui.past!;
  const o = p.o;
  const date = (c: PastConversation) => new Date(c.createdAt).toLocaleString(v.s.lang?.locale, { dateStyle: 'medium', timeStyle: 'short' });
  return (
    <div class="ps">
      <div class="o">
        <button
          class="k"
          // A new button for each view: focus moves to it.
          key={o ? 1 : 0}
          ref={focus}
          onClick={(e) => {
            v.set({ past: o && { l: p.l } });
            o || v.compose(!e.detail);
          }}
        >
          {t.back}
        </button>
        <b>{o ? date(o) : t.past}</b>
      </div>
      {o ? (
        <div class="pv">
          {p.r && <Timeline v={{ ...v, s: { ...v.s, greeting: null, timeline: p.r } }} />}
          {o.closed && <p class="y">{t.closed}</p>}
        </div>
      ) : (
        <div class="pl">
          {p.l &&
            (p.l[0] ? (
              p.l.map((c) => (
                <div class="g" key={c.id}>
                  <button
                    class="x"
                    onClick={() => {
                      v.set({ past: { l: p.l, o: c } });
                      v.c.openPast(c.id).then(
                        (r) => v.ui.past?.o === c && v.set({ past: { l: p.l, o: c, r } }),
                        () => v.set({ past: { l: p.l } }),
                      );
                    }}
                  >
                    <span class="t">{date(c)}</span>
                    <br />
                    <bdi>{c.preview}</bdi>
                  </button>
                </div>
              ))
            ) : (
              <p class="e">{t.noPast}</p>
            ))}
        </div>
      )}
    </div>
  );
}
