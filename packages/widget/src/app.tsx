import { Composer } from './composer.js';
import { Header } from './header.js';
import { OfflineForm } from './offline-form.js';
import { Rating } from './rating.js';
import { Timeline } from './timeline.js';
import type { View } from './view.js';

/** The launcher and, when open, the panel. */
export function App({ v, dir, lang }: { v: View; dir: 'ltr' | 'rtl'; lang: string }) {
  const { s, ui, t } = v;
  return (
    <div class="w" dir={dir} lang={lang}>
      <button
        class="l"
        aria-label={(ui.open ? t.close : t.open) + (s.unread ? ` (${t.unread(s.unread)})` : '')}
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
      {ui.open && (
        <section class="p" role="dialog" aria-label={s.siteName} onKeyDown={(e) => e.key === 'Escape' && v.close()}>
          <Header v={v} />
          {s.state === 'reconnecting' && (
            <p class="n" role="status">
              {t.offline}
            </p>
          )}
          <Timeline v={v} />
          <p class="y" role="status">
            {s.typing ? (
              <>
                {t.typing(s.typing.role === 'bot' ? (s.typing.ai ? t.ai : t.bot) : s.typing.name || t.agent)} <i class="d" />
              </>
            ) : (
              s.queue && s.queue.position > 0 && t.queue(s.queue.position)
            )}
          </p>
          {s.ratingRequested && <Rating v={v} />}
          {s.closed ? (
            <div class="o">
              <p>{t.closed}</p>
              <button class="k" onClick={() => v.c.restart()}>
                {t.restart}
              </button>
            </div>
          ) : s.online ? (
            <Composer v={v} />
          ) : (
            <OfflineForm v={v} />
          )}
        </section>
      )}
    </div>
  );
}
