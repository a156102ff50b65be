import { showPast } from './past.js';
import { safeUrl } from './safe-url.js';
import type { View } from './view.js';

/** Shop name, who is serving (the Bot badge or the agent), "Talk to a human" and close. */
export function Header({ v }: { v: View }) {
  const { s, t } = v;
  const agent = s.agent;
  const avatar = safeUrl(agent?.avatarUrl);
  return (
    // role="none": inside the dialog this is no page banner landmark.
    <header class="h" role="none">
      {avatar && <img class="av" src={avatar} alt="" />}
      <div>
        <b dir="auto">{s.siteName}</b>
        {agent ? <span dir="auto">{agent.name || t.agent}</span> : <span class="bd">{t.bot}</span>}
      </div>
      {!agent && !s.closed && (
        <button
          class="hu"
          // With nobody online the leave-a-message form is the way to a human.
          onClick={() => (s.online ? v.c.requestHuman(t.human) : v.compose(true))}
        >
          {t.human}
        </button>
      )}
      {s.state == 'open' && (
        <button class="cl" aria-label={t.past} title={t.past} onClick={() => showPast(v)}>
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16zm-1 3v6l5 3 1-1.7-4-2.3V7z" />
          </svg>
        </button>
      )}
      <button class="cl" aria-label={t.close} onClick={v.close}>
        ×
      </button>
    </header>
  );
}
