import { LIMITS } from '@parley/protocol';
import { upload } from './upload-ui.js';
import type { View } from './view.js';

const MAX = LIMITS.maxTextLength;

/** The text box: Enter sends, Shift+Enter breaks the line; a counter shows near the limit. */
export function Composer({ v }: { v: View }) {
  const { ui, t, c, s } = v;
  const send = () => {
    const text = ui.draft.trim();
    if (!text) return;
    c.send(text);
    c.typing(false);
    v.set({ draft: '' });
  };
  return (
    <form
      class="f"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {s.uploads && (
        // A label around the file input: a tap opens the picker (on a phone it offers the camera too).
        // Its appearance loads the upload code, which also takes files pasted or dropped on the panel.
        <label class="a" ref={(el) => upload(v, el)}>
          <input type="file" multiple accept={s.uploads.types.join()} aria-label={t.attach} onChange={(e) => upload(v, e.currentTarget)} />
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M11 5h2v14h-2zM5 11h14v2H5z" />
          </svg>
        </label>
      )}
      <textarea
        dir="auto"
        aria-label={t.message}
        placeholder={t.placeholder}
        rows={1}
        maxLength={MAX}
        value={ui.draft}
        onInput={(e) => {
          const draft = e.currentTarget.value;
          if (!draft !== !ui.draft) c.typing(!!draft);
          v.set({ draft });
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          }
        }}
      />
      {ui.draft.length > MAX * 0.9 && (
        <span class="ct" aria-live="polite">
          {ui.draft.length}/{MAX}
        </span>
      )}
      <button class="s" type="submit" aria-label={t.send} disabled={!ui.draft.trim()}>
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M3 20l18-8L3 4v6l12 2-12 2z" />
        </svg>
      </button>
    </form>
  );
}
