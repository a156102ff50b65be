import type { ChatMessage } from '@parley/client';
import type { Button, CardBody } from '@parley/protocol';
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
          <p class="x">{linkify(b.text)}</p>
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
    case 'card':
      return <Card v={v} b={b} />;
    case 'postback':
      return <p class="x">{b.label}</p>;
    case 'rating':
      return (
        <p class="x">
          {'★'.repeat(b.score)} {v.t.stars(b.score)}
          {b.comment && `: ${b.comment}`}
        </p>
      );
    case 'file':
      return (
        <p class="x">
          <Link href={safeUrl(b.url)}>{b.name}</Link>
        </p>
      );
  }
}

function Buttons({ v, buttons }: { v: View; buttons: Button[] }) {
  return (
    <div class="q">
      {buttons.map((button) => (
        <button key={button.value} onClick={() => v.c.postback(button)}>
          {button.label}
        </button>
      ))}
    </div>
  );
}

/** A product or order card: image, title (linked), subtitle, price, actions. */
function Card({ v, b }: { v: View; b: CardBody }) {
  const img = safeUrl(b.imageUrl);
  const url = safeUrl(b.url);
  return (
    <div class="c">
      {img && <img src={img} alt="" loading="lazy" />}
      <div>
        <b>{url ? <Link href={url}>{b.title}</Link> : b.title}</b>
        {b.subtitle && <p>{b.subtitle}</p>}
        {b.price && <p class="pr">{b.price}</p>}
        {b.actions && (
          <div class="q">
            {b.actions.map((a) =>
              a.url ? (
                <Link key={a.label} href={safeUrl(a.url)}>
                  {a.label}
                </Link>
              ) : (
                <button key={a.label} onClick={() => v.c.postback({ label: a.label, value: a.value ?? a.label })}>
                  {a.label}
                </button>
              ),
            )}
          </div>
        )}
      </div>
    </div>
  );
}
