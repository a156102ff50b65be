import { EN_STRINGS, type WidgetStrings } from '../strings.js';
import { ar } from './ar.js';
import { de } from './de.js';
import { es } from './es.js';
import { fr } from './fr.js';
import { ja } from './ja.js';
import { ko } from './ko.js';
import { pt } from './pt.js';
import { ru } from './ru.js';
import { zhCN } from './zh-cn.js';

/**
 * The string tables Parley ships, by BCP 47 tag. The widget bundles English only; the relay
 * serves the visitor's table in the site config (`GET /v1/sites/:siteKey/config?locale=`).
 */
export const BUILTIN_STRINGS: Readonly<Record<string, WidgetStrings>> = {
  en: EN_STRINGS,
  'zh-CN': zhCN,
  ar,
  es,
  fr,
  de,
  pt,
  ja,
  ko,
  ru,
};
