import type { ComponentChildren } from 'preact';

const URL_RE = /https?:\/\/[^\s<>"']+/gi;

/**
 * Text with its http(s) URLs turned into links, as Preact nodes: the text stays text
 * (never parsed as HTML), and trailing punctuation stays out of the link.
 */
export function linkify(text: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    const url = m[0].replace(/[.,;:!?)\]]+$/, '');
    const start = m.index;
    out.push(text.slice(at, start), <Link href={url}>{url}</Link>);
    at = start + url.length;
  }
  out.push(text.slice(at));
  return out;
}

/** A link that opens in a new tab with no access back to the page. */
export function Link(props: { href: string | undefined; class?: string; children: ComponentChildren }) {
  return (
    <a href={props.href} class={props.class} target="_blank" rel="noopener noreferrer">
      {props.children}
    </a>
  );
}
