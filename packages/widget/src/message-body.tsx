import type { ChatMessage } from '@parley/client';
import type { Button } from '@parley/protocol';
import { Extra } from './lazy.js';
import { Link, linkify } from './linkify.js';
import { safeUrl } from './safe-url.js';
import type { View } from './view.js';

/** A message's content. Quick replies are tappable only on the latest message; an answer's sources are links under it. */
export function Body({ v, m, live }: { v: View; m: ChatMessage; live: boolean }) {
  const b = m.body;
  switch (b.type) {
    case 'text':
    case 'contact':
    case 'quick_replies':
      return (
        <>
          <p class="x" dir="auto">
            {linkify(b.text)}
          </p>
          {b.type === 'quick_replies' && live && <Buttons v={v} buttons={b.replies} />}
          {b.type !== 'contact' && b.sources?.[0] && (
            <p class="t q">
              {v.t.sources}
              {b.sources.map((src) => (
                <Link key={src.url} href={safeUrl(src.url)}>
                  {src.title}
                </Link>
              ))}
            </p>
          )}
        </>
      );
    case 'postback':
      return (
        <p class="x" dir="auto">
          {b.label}
        </p>
      );
    default:
      // A card, a rating, a file: from the extras (extras-body.tsx).
      return <Extra of="RareBody" v={v} m={m} />;
  }
}

/** Quick replies: a tap sends one as the visitor's postback (in the bubble too, see bubble.tsx). */
export function Buttons({ v, buttons }: { v: View; buttons: Button[] }) {
  return (
    <div class="q">
      {buttons.map((button) => (
        <button
          key={button.value}
          dir="auto"
          onClick={(e) => {
            // The buttons go away with the answer: focus waits in the composer (a click by key has no `detail`).
            v.compose(!e.detail);
            v.c.postback(button);
          }}
        >
          {button.label}
        </button>
      ))}
    </div>
  );
}
