import { en, type Strings } from './locales/en.js';
import { zhCN } from './locales/zh-cn.js';

/** The string table for a BCP 47 tag: any `zh` tag gets zh-CN, everything else English. */
export function pickStrings(lang: string): Strings {
  return /^zh\b/i.test(lang) ? zhCN : en;
}

/** True for languages written right to left. */
export function isRtl(lang: string): boolean {
  return /^(ar|he|iw|fa|ur|ps|yi)\b/i.test(lang);
}
