import { HTTP_URL_RE } from '@parley/protocol';

/** The URL itself when it is absolute http(s), else undefined: no `javascript:`, `data:` or relative links. */
export function safeUrl(url: string | undefined): string | undefined {
  return url && HTTP_URL_RE.test(url) ? url : undefined;
}
