import type { ChatMessage } from '@parley/client';
import type { CardBody } from '@parley/protocol';
import { Link } from './linkify.js';
import { safeUrl } from './safe-url.js';
import type { View } from './view.js';

/**
 * The content of the rarer messages, from the extras (extras.ts): a product or order card, a
 * rating, a file. The others are message-body.tsx's.
 */
export function RareBody({ v, m }: { v: View; m: ChatMessage }) {
  const b = m.body;
  switch (b.type) {
    case 'card':
      return <Card v={v} b={b} />;
    case 'rating':
      return (
        <p class="x">
          {'★'.repeat(b.score)} {v.f(b.score > 1 ? v.t.stars : v.t.star, { n: b.score })}
          {b.comment && <>: <bdi>{b.comment}</bdi></>}
        </p>
      );
    case 'file': {
      // An image shows as itself (its name as the alt text), linked to the full size; any other file as its name and size.
      const url = safeUrl(b.url);
      return /^image\//i.test(b.mime) && url ? (
        <Link href={url} class="im">
          <img src={url} alt={b.name} loading="lazy" />
        </Link>
      ) : (
        <p class="x" dir="auto">
          <Link href={url}>{b.name}</Link> ({Math.ceil(b.size / 1024)} KB)
        </p>
      );
    }
  }
  return null;
}

/** A product or order card: image, title (linked), subtitle, price, actions. */
function Card({ v, b }: { v: View; b: CardBody }) {
  const img = safeUrl(b.imageUrl);
  const url = safeUrl(b.url);
  return (
    <div class="c" dir="auto">
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
