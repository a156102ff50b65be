/**
 * The languages the demo bot speaks: every answer, button, card, notice and its own name. The
 * widget's strings come from the relay in the same languages (packages/protocol/src/locales).
 */
export const LOCALES = ['en', 'zh-CN', 'ar', 'es', 'fr', 'de', 'pt', 'ja', 'ko', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];

/** A price: an amount in a currency (ISO 4217), written the visitor's way by `formatMoney`. */
export interface Money {
  amount: number;
  currency: string;
}

const HAN = /[\u3400-\u9fff\uf900-\ufaff]/;
const KANA = /[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]/;
const HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/;
const ARABIC = /[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]/;
const CYRILLIC = /[\u0400-\u04ff]/;
const LATIN_WORD = /\p{Script=Latin}{2,}/u;
/** The languages written in Latin letters: a Latin question on such a page is taken to be in the page's language. */
const LATIN_LOCALES: readonly Locale[] = ['en', 'es', 'fr', 'de', 'pt'];

/**
 * The bot's language for a BCP 47 tag (`navigator.language`, `page.locale`): by its language
 * subtag, so `pt-BR` → `pt`, `ar-EG` → `ar`, and any Chinese (`zh-TW` too) → `zh-CN`, the one
 * Chinese the bot writes. Anything else, or nothing, → `en`.
 */
export function toLocale(tag: string | undefined): Locale {
  const language = tag?.trim().toLowerCase().split(/[-_]/)[0];
  if (language === 'zh') return 'zh-CN';
  return LOCALES.find((l) => l === language) ?? 'en';
}

/** The language a text's script names, when it names one; Chinese characters alone are Japanese on a Japanese page. */
function scriptLocale(text: string, pageLocale: Locale): Locale | undefined {
  if (KANA.test(text)) return 'ja';
  if (HANGUL.test(text)) return 'ko';
  if (HAN.test(text)) return pageLocale === 'ja' ? 'ja' : 'zh-CN';
  if (ARABIC.test(text)) return 'ar';
  if (CYRILLIC.test(text)) return 'ru';
  return undefined;
}

/**
 * The language to answer the visitor's words in. Their script decides first: kana → Japanese,
 * Hangul → Korean, Chinese characters → Chinese (Japanese on a Japanese page), Arabic → Arabic,
 * Cyrillic → Russian. Latin words are in the page's language when the page is in one written in
 * Latin letters (English, Spanish, French, German, Portuguese), else English. Words without
 * letters (an order number) follow the page.
 */
export function detectLocale(text: string, pageLocale?: string): Locale {
  const page = toLocale(pageLocale);
  const script = scriptLocale(text, page);
  if (script) return script;
  if (LATIN_WORD.test(text)) return LATIN_LOCALES.includes(page) ? page : 'en';
  return page;
}

/**
 * The language after the visitor tapped a button labelled `label`: the label's script when it
 * names a language (a greeting button of the site's Chinese or Arabic greeting), else the
 * conversation's language as it was (a Latin label cannot tell Spanish from English).
 */
export function buttonLocale(label: string, current: Locale, pageLocale?: string): Locale {
  const page = toLocale(pageLocale);
  return scriptLocale(label, current === 'ja' ? 'ja' : page) ?? current;
}

/** Digits as the bot reads them: Arabic-Indic, Persian and full-width digits become 0–9. */
export function asciiDigits(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660))
    .replace(/[\u06f0-\u06f9]/g, (d) => String(d.charCodeAt(0) - 0x06f0));
}

const moneyFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<Locale, Intl.DateTimeFormat>();
const listFormats = new Map<Locale, Intl.ListFormat>();

/** A price as the visitor's language writes it: `€129.00`, `129,00 €`, `‏129.00 €`. */
export function formatMoney(money: Money, locale: Locale): string {
  const key = `${locale} ${money.currency}`;
  let format = moneyFormats.get(key);
  if (!format) moneyFormats.set(key, (format = new Intl.NumberFormat(locale, { style: 'currency', currency: money.currency })));
  return format.format(money.amount);
}

/** A day as the visitor's language writes it: `June 12`, `6月12日`, `12 июня`. */
export function formatDay(date: Date, locale: Locale): string {
  let format = dateFormats.get(locale);
  if (!format) dateFormats.set(locale, (format = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'long' })));
  return format.format(date);
}

/** Items listed the visitor's way: `A and B`, `A和B`, `A وB`. */
export function formatList(items: string[], locale: Locale): string {
  let format = listFormats.get(locale);
  if (!format) listFormats.set(locale, (format = new Intl.ListFormat(locale, { type: 'conjunction' })));
  return format.format(items);
}
