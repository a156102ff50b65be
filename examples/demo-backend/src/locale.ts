/** The languages the demo bot speaks. */
export type Locale = 'en' | 'zh-CN';

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;

/**
 * The language to answer in: Chinese characters in the visitor's words win, then any
 * Latin letters, then the page's locale (for postbacks and bare numbers).
 */
export function detectLocale(text: string, pageLocale?: string): Locale {
  if (CJK.test(text)) return 'zh-CN';
  if (/[a-z]{2,}/i.test(text)) return 'en';
  return pageLocale?.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

/** True when the text contains Chinese characters. */
export function hasChinese(text: string): boolean {
  return CJK.test(text);
}
