import { LIMITS } from '@parley/protocol';
import type { View } from './view.js';

/** While nobody is online: leave an email and a message (or several), answered later by email. */
export function OfflineForm({ v }: { v: View }) {
  const { t, ui } = v;
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
        // The form stays for another message, to the same email.
        text.value = '';
        v.set({ left: true });
      }}
    >
      <p role="status">{ui.left ? t.thanks : t.away}</p>
      <input dir="auto" name="email" type="email" required autocomplete="email" aria-label={t.email} placeholder={t.email} />
      <textarea dir="auto" name="text" required aria-label={t.message} placeholder={t.placeholder} maxLength={LIMITS.maxTextLength} />
      <button class="k" type="submit">
        {t.leave}
      </button>
    </form>
  );
}
