import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { LIMITS as L } from './limits.js';
import { PublicSiteConfig } from './site-config.js';
import { parsePublicSiteConfig, siteConfigPath } from './site-config-guard.js';

// The browser checks the site config with a zod-free guard; it must accept exactly what the
// schema accepts and return exactly what `safeParse` returns. Valid configs are generated,
// then changed at one place (or a few) and compared.

const MAX = Number.MAX_SAFE_INTEGER;
const unit = fc.constantFrom('a', 'Z', ' ', 'é', '好', '😀', '\uD83D', '\n');
const exactly = (n: number) => fc.constantFrom('a', '好', '😀').map((c) => c.repeat(n));
const free = (max: number) => fc.oneof({ weight: 4, arbitrary: fc.string({ unit, minLength: 1, maxLength: 12 }) }, { weight: 1, arbitrary: exactly(max) });
const button = fc.record({ label: free(L.maxLabelLength), value: free(L.maxValueLength) });
const config = fc.record({
  v: fc.oneof(fc.constant(1), fc.integer()),
  site: fc.record({ name: free(L.maxShortLength) }),
  greeting: fc.record({
    text: free(L.maxTextLength),
    quickReplies: fc.oneof(fc.array(button, { maxLength: 3 }), fc.array(button, { minLength: L.maxQuickReplies, maxLength: L.maxQuickReplies })),
  }),
  online: fc.boolean(),
});

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
const junk = fc.constantFrom<unknown>(undefined, null, true, 0, -1, 0.5, 1.5, MAX + 1, NaN, '', 'x', '😀', [], {}, [{}], { label: 'a', value: 'b' });
const change = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('delete', 'replace', 'extra', 'grow', 'empty'),
  value: junk,
  key: fc.constantFrom('v', 'site', 'name', 'greeting', 'text', 'quickReplies', 'label', 'value', 'online', '__proto__', 'zz'),
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
    expect(parsePublicSiteConfig({ ...ok, theme: { x: 1 }, site: { name: 'Shop', secret: 's' } })).toEqual(ok);
  });

  test('siteConfigPath escapes the site key', () => {
    expect(siteConfigPath('pk_demo')).toBe('/v1/sites/pk_demo/config');
    expect(siteConfigPath('a/b?c')).toBe('/v1/sites/a%2Fb%3Fc/config');
  });
});
