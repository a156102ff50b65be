// A site's languages as a visitor meets them: the site config answered per `?locale=` (greeting,
// strings, direction) with its fallbacks, the greeting `welcome` carries for `hello.page.locale`,
// and a locales config refused at start with the bad key named.
import { afterEach, describe, expect, test } from 'vitest';
import { BUILTIN_STRINGS, parsePublicSiteConfig } from '@parley/protocol';
import { ConfigError, parseConfig, type RelayConfigInput } from '../config.js';
import { ORIGIN, testConfig } from '../test-support/harness.js';
import { injectRelay } from '../test-support/inject.js';

const relays: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

const GREETING = { text: 'Hi! How can we help?', quickReplies: [{ label: 'Shipping', value: 'shipping' }] };
const ZH = { text: '您好！有什么可以帮您？', quickReplies: [{ label: '配送', value: 'shipping' }] };
const AR = { text: 'مرحبًا! كيف يمكننا مساعدتك؟', quickReplies: [{ label: 'الشحن', value: 'shipping' }] };
const IT = { text: 'Ciao! Come possiamo aiutarti?', quickReplies: [] };

const locales = {
  'zh-CN': { greeting: ZH },
  ar: { greeting: AR },
  de: { strings: { human: 'Mit dem Team sprechen', typing: '{name} tippt…' } },
  it: { greeting: IT, strings: { send: 'Invia' } },
};

async function setup(site: Partial<RelayConfigInput['sites'][number]> = { locales }) {
  const relay = await injectRelay({ site });
  relays.push(relay);
  const get = (query = '', headers: Record<string, string> = {}) =>
    relay.request({ method: 'GET', url: `/v1/sites/pk_test/config${query}`, headers: { origin: ORIGIN, ...headers } });
  return { relay, get };
}

describe('the site config in the visitor language', () => {
  test('a locale the site greets in gets its greeting and Parley strings, which the browser guard accepts', async () => {
    const { get } = await setup();
    const zh = await get('?locale=zh-CN');
    expect(zh.status).toBe(200);
    expect(zh.json).toMatchObject({ greeting: ZH, locale: 'zh-CN', dir: 'ltr', strings: BUILTIN_STRINGS['zh-CN'] });
    expect(parsePublicSiteConfig(zh.json)).toEqual(zh.json);

    const ar = await get('?locale=ar');
    expect(ar.json).toMatchObject({ greeting: AR, locale: 'ar', dir: 'rtl', strings: BUILTIN_STRINGS.ar });
    expect(parsePublicSiteConfig(ar.json)).toEqual(ar.json);
  });

  test('a tag is matched by region and by language: zh-TW gets zh-CN, ar-EG gets ar, pt-BR gets pt', async () => {
    const { get } = await setup();
    expect((await get('?locale=zh-TW')).json).toMatchObject({ greeting: ZH, locale: 'zh-CN', strings: BUILTIN_STRINGS['zh-CN'] });
    expect((await get('?locale=ar-EG')).json).toMatchObject({ greeting: AR, locale: 'ar', dir: 'rtl' });
    // Parley speaks Portuguese; the site greets only in its default language.
    expect((await get('?locale=pt-BR')).json).toMatchObject({ greeting: GREETING, locale: 'pt', dir: 'ltr', strings: BUILTIN_STRINGS.pt });
  });

  test("a site's wording replaces Parley's for its keys only; a language Parley lacks gets the site's strings alone", async () => {
    const { get } = await setup();
    const de = (await get('?locale=de-AT')).json;
    expect(de.locale).toBe('de');
    expect(de.strings).toEqual({ ...BUILTIN_STRINGS.de, human: 'Mit dem Team sprechen', typing: '{name} tippt…' });
    expect((await get('?locale=it-IT')).json).toMatchObject({ greeting: IT, locale: 'it', dir: 'ltr', strings: { send: 'Invia' } });
    expect(Object.keys((await get('?locale=it')).json.strings)).toEqual(['send']);
  });

  test('no locale, one nobody speaks or one that is not a tag falls back to the top-level greeting in English, without strings', async () => {
    const { get } = await setup();
    for (const query of ['', '?locale=nl', '?locale=<b>', `?locale=${'x'.repeat(40)}`, '?locale=zh-CN&locale=ar']) {
      const res = await get(query);
      expect(res.status, query).toBe(200);
      expect(res.json, query).toEqual({ v: 1, site: { name: 'Test Shop' }, greeting: GREETING, online: true, locale: 'en', dir: 'ltr' });
    }
  });

  test("defaultLocale names the top-level greeting's language: unmatched visitors get its strings", async () => {
    const { get } = await setup({ defaultLocale: 'zh-CN', greeting: ZH });
    expect((await get('?locale=nl')).json).toMatchObject({ greeting: ZH, locale: 'zh-CN', strings: BUILTIN_STRINGS['zh-CN'] });
    expect((await get('?locale=fr')).json).toMatchObject({ greeting: ZH, locale: 'fr', strings: BUILTIN_STRINGS.fr });
    expect((await get('?locale=en-GB')).json).toMatchObject({ locale: 'en' });
  });

  test('each locale has its own ETag, and revalidates to 304 with it', async () => {
    const { get } = await setup();
    const zh = await get('?locale=zh-CN');
    const ar = await get('?locale=ar');
    expect(zh.headers.etag).not.toBe(ar.headers.etag);
    expect((await get('?locale=zh-CN', { 'if-none-match': String(zh.headers.etag) })).status).toBe(304);
    expect((await get('?locale=ar', { 'if-none-match': String(zh.headers.etag) })).status).toBe(200);
    expect(zh.headers['cache-control']).toBe('no-cache');
  });
});

describe('welcome in the visitor language', () => {
  test("welcome carries the greeting for the page's locale, with the same fallbacks as the site config", async () => {
    const { relay } = await setup();
    const greet = async (page?: Record<string, unknown>) => (await (await relay.socket()).hello(page ? { page } : {})).greeting;
    expect(await greet({ locale: 'zh-CN' })).toEqual(ZH);
    expect(await greet({ locale: 'zh-HK' })).toEqual(ZH);
    expect(await greet({ locale: 'ar-SA', url: 'https://shop.example/' })).toEqual(AR);
    expect(await greet({ locale: 'fr' })).toEqual(GREETING);
    expect(await greet({ url: 'https://shop.example/' })).toEqual(GREETING);
    expect(await greet()).toEqual(GREETING);
  });
});

describe('locales config', () => {
  const keyOf = (site: Record<string, unknown>): { key: string; message: string } => {
    const base = testConfig('http://127.0.0.1:9/hook');
    try {
      parseConfig({ ...base, sites: [{ ...base.sites[0], ...site }] });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return { key: (err as ConfigError).key, message: (err as ConfigError).message };
    }
    throw new Error('config was accepted');
  };

  test('accepts greetings and strings per language tag, with defaults filled in', () => {
    const base = testConfig('http://127.0.0.1:9/hook');
    const site = parseConfig({ ...base, sites: [{ ...base.sites[0], locales }] }).sites[0]!;
    expect(site.defaultLocale).toBe('en');
    expect(site.locales.it).toEqual({ greeting: IT, strings: { send: 'Invia' } });
    expect(parseConfig(base).sites[0]!.locales).toEqual({});
  });

  test.each([
    ['a key that is not a language tag', { locales: { 'not a tag': { greeting: ZH } } }, 'sites.0.locales.not a tag', /language tag/],
    ['an unknown string key', { locales: { fr: { strings: { sned: 'Envoyer' } } } }, 'sites.0.locales.fr.strings.sned', /unrecognized/i],
    ['a placeholder English does not have', { locales: { fr: { strings: { typing: '{nom} écrit…' } } } }, 'sites.0.locales.fr.strings.typing', /\{name\}/],
    ['a placeholder in a string without any', { locales: { fr: { strings: { send: 'Envoyer {x}' } } } }, 'sites.0.locales.fr.strings.send', /no placeholders/],
    ['an empty string', { locales: { fr: { strings: { send: '' } } } }, 'sites.0.locales.fr.strings.send', /./],
    ['a greeting without text', { locales: { fr: { greeting: { quickReplies: [] } } } }, 'sites.0.locales.fr.greeting.text', /./],
    ['an unknown key in a locale', { locales: { fr: { greting: ZH } } }, 'sites.0.locales.fr.greting', /unrecognized/i],
    ['a default locale that is not a tag', { defaultLocale: 'english!' }, 'sites.0.defaultLocale', /language tag/],
  ])('refuses %s, naming the key', (_name, site, key, message) => {
    const err = keyOf(site);
    expect(err.key).toBe(key);
    expect(err.message).toMatch(message);
  });
});
