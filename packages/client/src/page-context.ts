import { HTTP_URL_RE, LIMITS, type PageContext } from '@parley/protocol';

const httpUrl = (u: unknown) => (typeof u === 'string' && HTTP_URL_RE.test(u) ? u.slice(0, LIMITS.maxUrlLength) : undefined);

/** The page the client runs in; none outside a document (Node, a worker). */
export function browserPage(): PageContext {
  if (typeof document === 'undefined') return {};
  return { url: location.href, title: document.title, referrer: document.referrer, locale: navigator.language };
}

/** Keep only what the protocol accepts, so a page with an odd URL or a long title still connects. */
export function cleanPage(p: PageContext & { product?: unknown }): PageContext | undefined {
  const page: PageContext = {
    url: httpUrl(p.url),
    title: p.title?.slice(0, LIMITS.maxShortLength * 2),
    referrer: p.referrer === '' ? '' : httpUrl(p.referrer),
    locale: p.locale?.slice(0, 35),
  };
  // Keys left undefined are dropped on the wire (JSON).
  return Object.values(page).some((x) => x !== undefined) ? page : undefined;
}
