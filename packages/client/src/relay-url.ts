/** The widget socket URL for a relay base URL: `https://chat.shop.example` → `wss://chat.shop.example/v1/widget`. */
export function widgetSocketUrl(relayUrl: string): string {
  const url = new URL(relayUrl); // throws on a malformed URL: a programmer mistake
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[url.protocol];
  if (!scheme) throw new TypeError(`relayUrl must be http(s) or ws(s), got ${url.protocol}`);
  return `${scheme}//${url.host}${url.pathname.replace(/\/+$/, '')}/v1/widget${url.search}`;
}
