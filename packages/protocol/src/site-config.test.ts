import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { LIMITS as L } from './limits.js';
import { PublicSiteConfig } from './site-config.js';
import { parsePublicSiteConfig, siteConfigPath } from './site-config-guard.js';
import { MAX_THEME_VALUE, MAX_TRIGGERS } from './proactive.js';
import { STRING_KEYS } from './strings.js';

// The browser checks the site config with a zod-free guard; it must accept exactly what the
// schema accepts and return exactly what `safeParse` returns. Valid configs are generated,
// then changed at one place (or a few) and compared.

const MAX = Number.MAX_SAFE_INTEGER;
const unit = fc.constantFrom('a', 'Z', ' ', 'é', '好', '😀', '\uD83D', '\n');
const exactly = (n: number) => fc.constantFrom('a', '好', '😀').map((c) => c.repeat(n));
const free = (max: number) => fc.oneof({ weight: 4, arbitrary: fc.string({ unit, minLength: 1, maxLength: 12 }) }, { weight: 1, arbitrary: exactly(max) });
const button = fc.record({ label: free(L.maxLabelLength), value: free(L.maxValueLength) });
// Some of the widget's strings (a few keys, or all of them).
const strings = fc.oneof(
  fc.dictionary(fc.constantFrom(...STRING_KEYS), free(L.maxShortLength), { maxKeys: 4 }),
  fc.record(Object.fromEntries(STRING_KEYS.map((k) => [k, free(L.maxShortLength)]))),
);
const length = fc.oneof(fc.constantFrom(0, 12, 24.5, -3), fc.constantFrom('24px', '1.5rem', '5vh'), free(MAX_THEME_VALUE));
const theme = fc.record(
  {
    primary: fc.oneof(fc.constantFrom('#1d4ed8', '#000'), free(MAX_THEME_VALUE)),
    position: fc.constantFrom('left', 'right'),
    offset: fc.oneof(length, fc.record({ x: length, y: length }, { requiredKeys: [] })),
    zIndex: fc.oneof(fc.constantFrom(0, 10, 2147483647, -1), fc.integer()),
  },
  { requiredKeys: [] },
);
const trigger = fc.record(
  {
    id: fc.constantFrom('cart-help', 'exit_1', 'a'),
    when: fc.record(
      {
        afterSec: fc.oneof(fc.constantFrom(0, 30), fc.nat()),
        url: fc.oneof(fc.constantFrom('/cart*', 'https://shop.example/*'), free(L.maxUrlLength)),
        scrollPct: fc.integer({ min: 0, max: 100 }),
        exitIntent: fc.boolean(),
        returning: fc.boolean(),
        attr: fc.record(
          { name: fc.constantFrom('cart-value', 'tier', 'x'.repeat(64)), gte: fc.double({ noNaN: true, noDefaultInfinity: true }), lte: fc.oneof(fc.integer(), fc.constantFrom(0.5, -2.25)), eq: fc.oneof(fc.constant(''), free(L.maxShortLength)) },
          { requiredKeys: ['name'] },
        ),
      },
      { requiredKeys: [] },
    ),
    message: fc.record({ text: free(L.maxTextLength), quickReplies: fc.array(button, { maxLength: 3 }) }),
    everyDays: fc.oneof(fc.constantFrom(0, 1, 30), fc.nat()),
  },
  { requiredKeys: ['id', 'when', 'message'] },
);
const config = fc.record(
  {
    v: fc.oneof(fc.constant(1), fc.integer()),
    site: fc.record({ name: free(L.maxShortLength) }),
    greeting: fc.record({
      text: free(L.maxTextLength),
      quickReplies: fc.oneof(fc.array(button, { maxLength: 3 }), fc.array(button, { minLength: L.maxQuickReplies, maxLength: L.maxQuickReplies })),
    }),
    online: fc.boolean(),
    locale: fc.oneof(fc.constantFrom('en', 'zh-CN', 'ar'), free(35)),
    dir: fc.constantFrom('ltr', 'rtl'),
    strings,
    uploads: fc.record({
      maxBytes: fc.oneof(fc.constantFrom(0, 10 * 1024 * 1024, MAX), fc.nat()),
      types: fc.oneof(fc.array(fc.constantFrom('image/*', 'application/pdf', 'text/plain'), { maxLength: 3 }), fc.array(free(L.maxShortLength), { minLength: 20, maxLength: 20 })),
    }),
    theme,
    triggers: fc.oneof(fc.array(trigger, { maxLength: 3 }), fc.array(trigger, { minLength: MAX_TRIGGERS, maxLength: MAX_TRIGGERS })),
  },
  { requiredKeys: ['v', 'site', 'greeting', 'online'] },
);

type Key = string | number;
const paths = (v: unknown, at: Key[] = []): Key[][] =>
  v && typeof v === 'object' ? [at, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, Array.isArray(v) ? Number(k) : k]))] : [at];
const DROP = Symbol('drop');
function edit(root: unknown, path: Key[], f: (node: unknown) => unknown): unknown {
  if (!path.length) return f(root);
  const [k, ...rest] = path as [Key, ...Key[]];
  const copy = (Array.isArray(root) ? [...root] : { ...(root as object) }) as Record<Key, unknown>;
  const next = edit(copy[k], rest, f);
  if (next === DROP) Array.isArray(copy) ? copy.splice(k as number, 1) : delete copy[k];
  else copy[k] = next;
  return copy;
}
const junk = fc.constantFrom<unknown>(undefined, null, true, 0, -1, 0.5, 1.5, 101, MAX + 1, NaN, Infinity, '', 'x', '😀', 'rtl', 'left', 'a b', 'Cart', 'x'.repeat(L.maxShortLength + 1), [], {}, [{}], { label: 'a', value: 'b' }, { send: 'Envoyer' });
const change = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('delete', 'replace', 'extra', 'grow', 'empty'),
  value: junk,
  key: fc.constantFrom('v', 'site', 'name', 'greeting', 'text', 'quickReplies', 'label', 'value', 'online', 'locale', 'dir', 'strings', 'send', 'stars', 'uploads', 'maxBytes', 'types', 'theme', 'primary', 'position', 'offset', 'x', 'y', 'zIndex', 'triggers', 'id', 'when', 'afterSec', 'url', 'scrollPct', 'exitIntent', 'returning', 'attr', 'gte', 'lte', 'eq', 'message', 'everyDays', '__proto__', 'zz'),
});
function damage(root: unknown, d: { at: number; kind: string; value: unknown; key: string }): unknown {
  const all = paths(root);
  return edit(root, all[d.at % all.length]!, (node) => {
    if (d.kind === 'delete') return DROP;
    if (d.kind === 'replace') return d.value;
    if (d.kind === 'extra' && node && typeof node === 'object' && !Array.isArray(node))
      return Object.defineProperty({ ...node }, d.key, { value: d.value, enumerable: true, writable: true, configurable: true });
    if (d.kind === 'grow') return typeof node === 'string' ? node + '😀' : Array.isArray(node) && node.length ? [...node, node[0]] : node;
    if (d.kind === 'empty') return typeof node === 'string' ? '' : Array.isArray(node) ? [] : node;
    return node;
  });
}
const inputs = fc.oneof(
  { weight: 3, arbitrary: config },
  { weight: 6, arbitrary: fc.tuple(config, fc.array(change, { minLength: 1, maxLength: 3 })).map(([c, ds]) => ds.reduce<unknown>(damage, c)) },
  { weight: 1, arbitrary: fc.anything() },
);

describe('parsePublicSiteConfig', () => {
  test('accepts exactly what PublicSiteConfig accepts, with the same output, over 10,000 inputs', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(inputs, (input) => {
        const z = PublicSiteConfig.safeParse(input);
        const g = parsePublicSiteConfig(input);
        expect(g).toEqual(z.success ? z.data : undefined);
        if (z.success) accepted++;
        else refused++;
      }),
      { numRuns: 10_000 },
    );
    // Both sides of the rule were exercised.
    expect(accepted).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(1000);
  });

  test('refuses a config without a greeting, with too many quick replies or a fractional version', () => {
    const ok = { v: 1, site: { name: 'Shop' }, greeting: { text: 'Hi', quickReplies: [{ label: 'A', value: 'a' }] }, online: true };
    expect(parsePublicSiteConfig(ok)).toEqual(ok);
    expect(parsePublicSiteConfig({ ...ok, greeting: undefined })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, greeting: { text: 'Hi', quickReplies: Array(L.maxQuickReplies + 1).fill({ label: 'A', value: 'a' }) } })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, v: 1.5 })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, later: { x: 1 }, site: { name: 'Shop', secret: 's' } })).toEqual(ok);
  });

  test('carries the locale, its direction and some or all of the widget strings; drops unknown string keys', () => {
    const ok = { v: 1, site: { name: 'Shop' }, greeting: { text: 'مرحبا', quickReplies: [] }, online: true, locale: 'ar', dir: 'rtl', strings: { send: 'إرسال' } };
    expect(parsePublicSiteConfig(ok)).toEqual(ok);
    expect(parsePublicSiteConfig({ ...ok, strings: { send: 'إرسال', later: 'x' } })).toEqual(ok);
    expect(parsePublicSiteConfig({ ...ok, dir: 'up' })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, strings: { send: '' } })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, strings: { send: 'x'.repeat(L.maxShortLength + 1) } })).toBeUndefined();
  });

  test('carries the theme and the triggers; refuses a bad position, too many triggers or a bad attribute name', () => {
    const trigger = { id: 'cart-help', when: { url: '/cart*', afterSec: 20, attr: { name: 'cart-value', gte: 100 } }, message: { text: 'Need help?', quickReplies: [] }, everyDays: 7 };
    const ok = {
      v: 1,
      site: { name: 'Shop' },
      greeting: { text: 'Hi', quickReplies: [] },
      online: true,
      theme: { primary: '#0b5', position: 'left', offset: { y: '5rem' }, zIndex: 10 },
      triggers: [trigger],
    };
    expect(parsePublicSiteConfig(ok)).toEqual(ok);
    expect(parsePublicSiteConfig({ ...ok, theme: { position: 'top' } })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, theme: { offset: Infinity } })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, triggers: Array(MAX_TRIGGERS + 1).fill(trigger) })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, triggers: [{ ...trigger, when: { attr: { name: 'Cart Value' } } }] })).toBeUndefined();
    expect(parsePublicSiteConfig({ ...ok, triggers: [{ ...trigger, when: { scrollPct: 101 } }] })).toBeUndefined();
  });

  test('siteConfigPath escapes the site key', () => {
    expect(siteConfigPath('pk_demo')).toBe('/v1/sites/pk_demo/config');
    expect(siteConfigPath('a/b?c')).toBe('/v1/sites/a%2Fb%3Fc/config');
  });
});
