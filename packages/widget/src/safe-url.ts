/** The URL itself when it is absolute http(s), else undefined: no `javascript:`, `data:` or relative links. */
export function safeUrl(url: string | undefined): string | undefined {
  return url && /^https?:\/\/[^\s]+$/i.test(url) ? url : undefined;
}
