import type { ChatMessage } from '@parley/client';
import type { View } from './view.js';

/** Focuses the box once, when it appears (one function: a new one each render would focus it again). */
const focus = (el: HTMLElement | null) => el?.focus();

/**
 * The comment box a 👎 on an AI answer opens (timeline.tsx): one line, sent with a second 👎
 * (the client cuts it to the protocol's limit). Part of the extras (extras.ts).
 */
export function Comment({ v, m }: { v: View; m: ChatMessage }) {
  const { t } = v;
  return (
    <form
      class="q"
      onSubmit={(e) => {
        e.preventDefault();
        const why = (e.currentTarget[0] as HTMLInputElement).value;
        if (why.trim()) v.c.feedback(m.id, 'down', why);
        // The form goes away: focus returns to 👎, last on the line above (Esc still closes the panel).
        (e.currentTarget.previousSibling!.lastChild as HTMLElement).focus();
        v.set({ fb: '' });
      }}
    >
      <input dir="auto" aria-label={t.comment} placeholder={t.comment} ref={focus} />
      <button>{t.send}</button>
    </form>
  );
}
