import { expect, test } from 'vitest';
import { contrastWithWhite, DEFAULT_PRIMARY } from './contrast.js';
import { CSS } from './styles.js';

test('the default primary colour gives white text at least 4.5:1 (WCAG AA)', () => {
  expect(contrastWithWhite(DEFAULT_PRIMARY)).toBeGreaterThanOrEqual(4.5);
  expect(CSS).toContain(`var(--parley-primary,${DEFAULT_PRIMARY})`);
});

test('the contrast formula matches known WCAG values', () => {
  expect(contrastWithWhite('#000000')).toBeCloseTo(21, 5);
  expect(contrastWithWhite('#fff')).toBeCloseTo(1, 5);
  expect(contrastWithWhite('#767676')).toBeCloseTo(4.54, 2);
});

test('the stylesheet honours reduced motion and shows focus rings', () => {
  expect(CSS).toMatch(/@media \(prefers-reduced-motion:reduce\)\{[^}]*animation:none/);
  expect(CSS).toMatch(/:focus-visible\{outline:2px solid/);
});
