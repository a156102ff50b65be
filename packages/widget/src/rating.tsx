import { LIMITS } from '@parley/protocol';
import type { View } from './view.js';

/** 1–5 stars as labelled toggle buttons, an optional comment, and submit. */
export function Rating({ v }: { v: View }) {
  const { ui, t, s } = v;
  return (
    <div class="o r" role="group" aria-label={t.rate}>
      <p>{s.ratingRequested?.text || t.rate}</p>
      <div>
        {[1, 2, 3, 4, 5].map((n) => (
          <button
            key={n}
            class={n <= ui.score ? 'on' : ''}
            aria-label={v.f(n > 1 ? t.stars : t.star, { n })}
            aria-pressed={n === ui.score}
            onClick={() => v.set({ score: n })}
          >
            ★
          </button>
        ))}
      </div>
      {ui.score > 0 && (
        <>
          <textarea
            dir="auto"
            aria-label={t.comment}
            placeholder={t.comment}
            maxLength={LIMITS.maxCommentLength}
            value={ui.comment}
            onInput={(e) => v.set({ comment: e.currentTarget.value })}
          />
          <button
            class="k"
            onClick={() => {
              v.c.rate(ui.score, ui.comment.trim() || undefined);
              v.set({ score: 0, comment: '' });
              // The prompt goes away with its button: keep focus in the panel (Esc still closes it).
              setTimeout(() => v.compose(true));
            }}
          >
            {t.submit}
          </button>
        </>
      )}
    </div>
  );
}
