import { expect, test } from 'vitest';
import { asciiDigits, buttonLocale, detectLocale, formatDay, formatList, formatMoney, toLocale } from './locale.js';

test('a page tag maps to the language the bot writes: by its language subtag, Chinese to zh-CN, anything else to English', () => {
  expect(['zh-CN', 'zh-TW', 'zh-Hant-HK', 'ar-EG', 'pt-BR', 'de-AT', 'fr_CA', 'ja', 'ko-KR', 'RU', 'es-419'].map(toLocale)).toEqual([
    'zh-CN',
    'zh-CN',
    'zh-CN',
    'ar',
    'pt',
    'de',
    'fr',
    'ja',
    'ko',
    'ru',
    'es',
  ]);
  expect([undefined, '', 'it-IT', 'arn', 'en-GB'].map(toLocale)).toEqual(['en', 'en', 'en', 'en', 'en']);
});

test("the visitor's script decides the reply language; Latin words follow a page in a Latin-script language, else English", () => {
  expect(detectLocale('运费多少？')).toBe('zh-CN');
  expect(detectLocale('返品', 'ja-JP')).toBe('ja');
  expect(detectLocale('返品できますか', 'en')).toBe('ja');
  expect(detectLocale('배송은 얼마나 걸리나요?')).toBe('ko');
  expect(detectLocale('أين طلبي؟', 'en-US')).toBe('ar');
  expect(detectLocale('Где мой заказ?', 'de')).toBe('ru');
  expect(detectLocale('¿Dónde está mi pedido?', 'es-MX')).toBe('es');
  expect(detectLocale('Where is my order?', 'fr')).toBe('fr');
  expect(detectLocale('Where is my order?', 'ar')).toBe('en');
  expect(detectLocale('order 1001', 'zh-CN')).toBe('en');
  expect(detectLocale('١٠٠١', 'ar')).toBe('ar');
  expect(detectLocale('1001', 'ko')).toBe('ko');
  expect(detectLocale('1001')).toBe('en');
});

test("a tapped button's label switches the language only when its script names one", () => {
  expect(buttonLocale('الشحن', 'en', 'en')).toBe('ar');
  expect(buttonLocale('配送', 'en', 'zh-CN')).toBe('zh-CN');
  expect(buttonLocale('返品', 'ja', 'en')).toBe('ja');
  expect(buttonLocale('配送について', 'zh-CN', 'zh-CN')).toBe('ja');
  expect(buttonLocale('Returns', 'zh-CN', 'zh-CN')).toBe('zh-CN');
  expect(buttonLocale('Envíos', 'es', 'es')).toBe('es');
});

test('Arabic-Indic, Persian and full-width digits read as 0–9', () => {
  expect(asciiDigits('طلب ١٠٠١ و۲۳ و１２３')).toBe('طلب 1001 و23 و123');
});

test('prices, days and lists are written the way each language writes them', () => {
  const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, ' ');
  const eur = { amount: 1234.5, currency: 'EUR' };
  expect(['en', 'zh-CN', 'de', 'fr', 'pt', 'ja'].map((l) => plain(formatMoney(eur, l as 'en')))).toEqual([
    '€1,234.50',
    '€1,234.50',
    '1.234,50 €',
    '1 234,50 €',
    '€ 1.234,50',
    '€1,234.50',
  ]);
  const day = new Date(2027, 5, 12, 12);
  expect(formatDay(day, 'en')).toBe('June 12');
  expect(formatDay(day, 'zh-CN')).toBe('6月12日');
  expect(formatDay(day, 'ar')).toBe('12 يونيو');
  expect(formatDay(day, 'ru')).toBe('12 июня');
  expect(formatList(['A', 'B'], 'en')).toBe('A and B');
  expect(formatList(['A', 'B'], 'es')).toBe('A y B');
});
