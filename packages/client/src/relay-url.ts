/** `path` on the relay at `relayUrl` (http(s) or ws(s)), over a socket (`ws`) or plain HTTP. */
function at(relayUrl: string, path: string, ws: boolean): string {
  const url = new URL(relayUrl); // throws on a malformed URL: a programmer mistake
  const tls = { 'http:': '', 'https:': 's', 'ws:': '', 'wss:': 's' }[url.protocol];
  if (tls === undefined) throw new TypeError(`relayUrl must be http(s) or ws(s), got ${url.protocol}`);
  return `${ws ? 'ws' : 'http'}${tls}://${url.host}${url.pathname.replace(/\/+$/, '')}${path}${url.search}`;
}

/** The widget socket URL for a relay base URL: `https://chat.shop.example` → `wss://chat.shop.example/v1/widget`. */
export const widgetSocketUrl = (relayUrl: string): string => at(relayUrl, '/v1/widget', true);

/** An HTTP URL on the relay: `(wss://chat.shop.example, /v1/x)` → `https://chat.shop.example/v1/x`. */
export const relayHttpUrl = (relayUrl: string, path: string): string => at(relayUrl, path, false);
