import { expect, test } from 'vitest';
import { detectLocale } from './locale.js';
import { isOpen, parseOpenHours } from './open-hours.js';

const at = (h: number, m = 0) => new Date(2027, 0, 15, h, m);

test('opening hours are inclusive of the start and exclusive of the end', () => {
  const hours = parseOpenHours('09:00-18:00');
  expect([at(8, 59), at(9), at(17, 59), at(18)].map((d) => isOpen(hours, d))).toEqual([false, true, true, false]);
  expect(isOpen(null, at(3))).toBe(true);
});

test('opening hours may span midnight', () => {
  const night = parseOpenHours('22:00-06:00');
  expect([at(21, 59), at(23), at(5, 59), at(6)].map((d) => isOpen(night, d))).toEqual([false, true, true, false]);
});

test('bad opening hours are refused with the expected format', () => {
  for (const bad of ['9-18', '09:00', '25:00-26:00', '09:60-18:00']) expect(() => parseOpenHours(bad)).toThrow(/09:00-18:00/);
});

test('the reply language follows Chinese characters, then Latin words, then the page locale', () => {
  expect(detectLocale('运费多少？')).toBe('zh-CN');
  expect(detectLocale('order 1001', 'zh-CN')).toBe('en');
  expect(detectLocale('1001', 'zh-CN')).toBe('zh-CN');
  expect(detectLocale('1001', 'en-GB')).toBe('en');
  expect(detectLocale('1001')).toBe('en');
});
