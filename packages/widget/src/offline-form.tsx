import { LIMITS } from '@parley/protocol';
import type { View } from './view.js';

/** While nobody is online: leave an email and a message, answered later by email. */
export function OfflineForm({ v }: { v: View }) {
  const { t, ui } = v;
  if (ui.left) return <p class="o">{t.thanks}</p>;
  return (
    <form
      class="o"
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const email = form.elements.namedItem('email') as HTMLInputElement;
        const text = form.elements.namedItem('text') as HTMLTextAreaElement;
        if (!email.value.trim() || !text.value.trim()) return;
        v.c.leaveMessage(email.value.trim(), text.value.trim());
        v.set({ left: true });
      }}
    >
      <p>{t.away}</p>
      <input name="email" type="email" required autocomplete="email" aria-label={t.email} placeholder={t.email} />
      <textarea name="text" required aria-label={t.message} placeholder={t.placeholder} maxLength={LIMITS.maxTextLength} />
      <button class="k" type="submit">
        {t.leave}
      </button>
    </form>
  );
}
