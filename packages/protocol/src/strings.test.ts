import { describe, expect, test } from 'vitest';
import { BUILTIN_STRINGS } from './locales/index.js';
import { MAX_STRING_LENGTH, WidgetStringsPatch } from './site-config.js';
import { EN_STRINGS, STRING_KEYS, formatString, localeDir, matchLocale, templateParams } from './strings.js';

const tables = Object.entries(BUILTIN_STRINGS);

describe('built-in string tables', () => {
  test('ship English and the nine other languages', () => {
    expect(Object.keys(BUILTIN_STRINGS).sort()).toEqual(['ar', 'de', 'en', 'es', 'fr', 'ja', 'ko', 'pt', 'ru', 'zh-CN']);
    expect(BUILTIN_STRINGS.en).toBe(EN_STRINGS);
  });

  test.each(tables)('%s has every key and nothing else', (_, table) => {
    expect(Object.keys(table).sort()).toEqual([...STRING_KEYS].sort());
  });

  test.each(tables)('%s has the placeholders of English in every template, and valid, non-empty strings', (tag, table) => {
    for (const key of STRING_KEYS) {
      expect(templateParams(table[key]), `${tag}.${key}`).toEqual(templateParams(EN_STRINGS[key]));
      // Braces only as placeholders: anything else would show as written.
      expect(table[key].replace(/\{\w+\}/g, ''), `${tag}.${key}`).not.toMatch(/[{}]/);
      expect(table[key].trim(), `${tag}.${key}`).not.toBe('');
      expect([...table[key]].length, `${tag}.${key}`).toBeLessThanOrEqual(MAX_STRING_LENGTH);
    }
    // What a site may send as overrides, each table passes too.
    expect(WidgetStringsPatch.safeParse(table).success).toBe(true);
  });

  test.each(tables.filter(([tag]) => tag !== 'en'))('%s is translated: most strings differ from English', (tag, table) => {
    const same = STRING_KEYS.filter((k) => table[k] === EN_STRINGS[k]);
    // Only words the language borrows as they are ("AI", "Bot", "Message", "Sources").
    expect(same.length, `${tag}: ${same.join(', ')}`).toBeLessThanOrEqual(4);
  });

  test('Arabic is written in Arabic script, with the Arabic question mark', () => {
    const ar = BUILTIN_STRINGS.ar!;
    for (const key of STRING_KEYS) expect(ar[key], key).toMatch(/[\u0600-\u06ff]/);
    expect(ar.rate.endsWith('؟')).toBe(true);
  });
});

describe('formatString', () => {
  test('fills placeholders, wrapping text (not numbers) in Unicode isolates', () => {
    expect(formatString(EN_STRINGS.typing, { name: 'Mia' })).toBe('\u2068Mia\u2069 is typing…');
    expect(formatString(EN_STRINGS.queue, { n: 3 })).toBe('You are #3 in line');
    expect(formatString(BUILTIN_STRINGS.ar!.typing, { name: 'Mia' })).toBe('\u2068Mia\u2069 يكتب…');
    // Unknown or missing placeholders stay as written.
    expect(formatString('{a} and {b}', { a: 1 })).toBe('1 and {b}');
  });

  test('star is the form for one, stars for more', () => {
    const label = (table: Record<string, string>, n: number) => formatString(n === 1 ? table.star! : table.stars!, { n });
    expect([1, 2, 5].map((n) => label(EN_STRINGS, n))).toEqual(['1 star', '2 stars', '5 stars']);
    expect([1, 2, 5].map((n) => label(BUILTIN_STRINGS.ru!, n))).toEqual(['1 звезда', 'Оценка: 2 из 5', 'Оценка: 5 из 5']);
  });

  test('templateParams lists the placeholder names once, sorted', () => {
    expect(templateParams('{b} {a} {b}')).toEqual(['a', 'b']);
    expect(templateParams(EN_STRINGS.stars)).toEqual(['n']);
    expect(templateParams(EN_STRINGS.joined)).toEqual(['name']);
    expect(templateParams(EN_STRINGS.send)).toEqual([]);
  });
});

describe('locales', () => {
  const tags = ['en', 'zh-CN', 'ar', 'es', 'fr', 'de', 'pt', 'ja', 'ko', 'ru'];

  test('matchLocale: the same tag in any case, then the tag cut short, then the same language, else none', () => {
    expect(matchLocale('zh-cn', tags)).toBe('zh-CN');
    expect(matchLocale('pt-BR', tags)).toBe('pt');
    expect(matchLocale('de_AT', tags)).toBe('de');
    expect(matchLocale('zh-TW', tags)).toBe('zh-CN');
    expect(matchLocale('zh-Hant-TW', ['zh-CN', 'zh-Hant'])).toBe('zh-Hant');
    // A closer rule wins over "same language".
    expect(matchLocale('zh-TW', ['zh-CN', 'zh-TW'])).toBe('zh-TW');
    expect(matchLocale('pt', ['pt-BR', 'pt-PT'])).toBe('pt-BR');
    expect(matchLocale('it', tags)).toBeUndefined();
    expect(matchLocale(undefined, tags)).toBeUndefined();
    expect(matchLocale('', tags)).toBeUndefined();
  });

  test('localeDir: right to left for Arabic, Hebrew, Persian, Urdu (not in Latin script)', () => {
    expect(['ar', 'ar-EG', 'he', 'fa-IR', 'ur', 'AR'].map(localeDir)).toEqual(Array(6).fill('rtl'));
    expect(['en', 'zh-CN', 'fr', 'ja', 'arn', 'ar-Latn', 'hr'].map(localeDir)).toEqual(Array(7).fill('ltr'));
  });
});
