import { Bubble } from './bubble.js';
import { Composer } from './composer.js';
import { Header } from './header.js';
import { Extra, preload } from './lazy.js';
import { Timeline } from './timeline.js';
import type { View } from './view.js';

/** The launcher and, when open, the panel. */
export function App({ v, dir, lang }: { v: View; dir: 'ltr' | 'rtl'; lang: string }) {
  const { s, ui, t } = v;
  // The UI of rarer states (the rating and leave-a-message forms, past conversations…) comes in
  // the extras (lazy.ts), loaded as soon as one is likely: a rating asked for, the conversation
  // closed, nobody online.
  if (s.ratingRequested || s.closed || !s.online) preload();
  return (
    <div class="w" dir={dir} lang={lang}>
      <button
        class="l"
        aria-label={(ui.open ? t.close : t.open) + (s.unread ? ` (${v.f(t.unread, { n: s.unread })})` : '')}
        aria-expanded={ui.open}
        onClick={v.toggle}
      >
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z" />
        </svg>
        {s.unread > 0 && (
          <span class="b" aria-hidden="true">
            {s.unread}
          </span>
        )}
      </button>
      {ui.b && <Bubble v={v} b={ui.b} />}
      {ui.open && (
        <section class="p" role="dialog" aria-label={s.siteName} onKeyDown={(e) => e.key === 'Escape' && v.close()}>
          <Header v={v} />
          {ui.late && (
            <p class="n" role="status">
              {t.offline}
            </p>
          )}
          {ui.past ? <Extra of="Past" v={v} /> : <Timeline v={v} />}
          <p class="y" role="status">
            {s.typing ? (
              <>
                {v.f(t.typing, { name: s.typing.role === 'bot' ? (s.typing.ai ? t.ai : t.bot) : s.typing.name || t.agent })} <i class="d" />
              </>
            ) : s.closed ? (
              t.closed
            ) : /ing$/.test(s.state) && !ui.late ? (
              // Connecting or reconnecting: after a few seconds without the relay, the offline notice above.
              t.connecting
            ) : (
              s.queue && s.queue.position > 0 && v.f(t.queue, { n: s.queue.position })
            )}
          </p>
          {s.ratingRequested && <Extra of="Rating" v={v} />}
          {ui.note && (
            // An attachment: the file being uploaded with its progress, or why it was not sent.
            <p class="n" role="status">
              {ui.p! >= 0 && <progress value={ui.p} aria-label={ui.note} />} <bdi>{ui.note}</bdi>
            </p>
          )}
          {s.closed ? (
            <div class="o">
              <button class="k" onClick={() => v.c.restart()}>
                {t.restart}
              </button>
            </div>
          ) : s.online ? (
            <Composer v={v} />
          ) : (
            <Extra of="OfflineForm" v={v} />
          )}
        </section>
      )}
    </div>
  );
}
