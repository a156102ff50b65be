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
        <b>{s.siteName}</b>
        {agent ? <span>{agent.name || t.agent}</span> : <span class="bd">{t.bot}</span>}
      </div>
      {!agent && !s.closed && (
        <button
          class="hu"
          onClick={(e) => {
            // With nobody online the leave-a-message form is the way to a human.
            if (s.online) v.c.requestHuman(t.human);
            else (e.currentTarget as HTMLElement).closest('.p')?.querySelector('input')?.focus();
          }}
        >
          {t.human}
        </button>
      )}
      <button class="cl" aria-label={t.close} onClick={v.close}>
        ×
      </button>
    </header>
  );
}
