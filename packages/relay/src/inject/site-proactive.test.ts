// A site's `theme` and `triggers`: validated in the relay config with errors that name the bad
// key, and served in the public site config (`GET /v1/sites/:siteKey/config`) for the widget.
import { afterEach, describe, expect, test } from 'vitest';
import { parsePublicSiteConfig } from '@parley/protocol';
import { ConfigError, parseConfig, type RelayConfigInput } from '../config.js';
import { ORIGIN, testConfig } from '../test-support/harness.js';
import { injectRelay } from '../test-support/inject.js';

type SiteInput = RelayConfigInput['sites'][number];

const relays: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

/** The error `parseConfig` throws for the pk_test site with `site` over it. */
function refusal(site: Partial<SiteInput>): { key: string; message: string } {
  const base = testConfig('http://127.0.0.1:9/hook');
  try {
    parseConfig({ ...base, sites: [{ ...base.sites[0]!, ...site }, base.sites[1]!] });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return { key: (err as ConfigError).key, message: (err as ConfigError).message };
  }
  throw new Error('the config was accepted');
}

const trigger = { id: 'cart-help', when: { url: '/cart*', afterSec: 20 }, message: { text: 'Questions about your order?' } };

describe('theme and triggers in the relay config', () => {
  test('a valid theme and triggers are accepted, with defaults filled in', () => {
    const base = testConfig('http://127.0.0.1:9/hook');
    const config = parseConfig({ ...base, sites: [{ ...base.sites[0]!, theme: { primary: '#0b5d1e', position: 'left', offset: { y: '5rem' } }, triggers: [trigger] }] });
    expect(config.sites[0]!.triggers).toEqual([{ ...trigger, message: { text: 'Questions about your order?', quickReplies: [] }, everyDays: 1 }]);
    expect(config.sites[0]!.theme).toEqual({ primary: '#0b5d1e', position: 'left', offset: { y: '5rem' } });
  });

  test.each([
    ['a colour name', { theme: { primary: 'blue' } }, 'sites.0.theme.primary', /hex colour/],
    ['a colour too light for white text', { theme: { primary: '#9cf' } }, 'sites.0.theme.primary', /contrast/],
    ['another corner', { theme: { position: 'top' } }, 'sites.0.theme.position', /left|right/],
    ['an offset that is no CSS length', { theme: { offset: 'calc(1px)' } }, 'sites.0.theme.offset', /CSS length/],
    ['a bad bottom offset', { theme: { offset: { x: '2em', y: 'far' } } }, 'sites.0.theme.offset.y', /CSS length/],
    ['an unknown theme key', { theme: { colour: '#000' } }, 'sites.0.theme.colour', /unrecognized/i],
    ['a trigger id with a space', { triggers: [{ ...trigger, id: 'has space' }] }, 'sites.0.triggers.0.id', /letters, digits/],
    ['two triggers with one id', { triggers: [trigger, { ...trigger }] }, 'sites.0.triggers.1.id', /duplicate trigger id/],
    ['a scroll depth over 100%', { triggers: [{ ...trigger, when: { scrollPct: 150 } }] }, 'sites.0.triggers.0.when.scrollPct', /100/],
    ['an unknown condition', { triggers: [{ ...trigger, when: { afterSeconds: 5 } }] }, 'sites.0.triggers.0.when.afterSeconds', /unrecognized/i],
    ['a page attribute name that is no data- name', { triggers: [{ ...trigger, when: { attr: { name: 'Cart Value', gte: 100 } } }] }, 'sites.0.triggers.0.when.attr.name', /data-parley-/],
    ['an empty message', { triggers: [{ ...trigger, message: { text: '' } }] }, 'sites.0.triggers.0.message.text', /./],
    ['a negative cap', { triggers: [{ ...trigger, everyDays: -1 }] }, 'sites.0.triggers.0.everyDays', /./],
    ['a message in a language that is no tag', { triggers: [{ ...trigger, locales: { 'not a tag': { text: 'x' } } }] }, 'sites.0.triggers.0.locales.not a tag', /language tag/],
    ['21 triggers', { triggers: Array.from({ length: 21 }, (_, i) => ({ ...trigger, id: `t${i}` })) }, 'sites.0.triggers', /20/],
  ])('%s is refused, naming the key', (_, site, key, message) => {
    const err = refusal(site as Partial<SiteInput>);
    expect(err.key).toBe(key);
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`Invalid relay config: ${key}: `)).toBe(true);
  });
});

describe('theme and triggers in the public site config', () => {
  test('the site config carries the theme and the triggers, which the browser guard accepts as they are', async () => {
    const relay = await injectRelay({
      site: {
        theme: { primary: '#0b5d1e', position: 'left', offset: { x: 16, y: '5rem' }, zIndex: 1000 },
        triggers: [
          { ...trigger, when: { url: '/cart*', afterSec: 20, attr: { name: 'cart-value', gte: 100 } }, everyDays: 7 },
          { id: 'leaving', when: { exitIntent: true, returning: false }, message: { text: 'Before you go: 10% off today.', quickReplies: [{ label: 'Get the code', value: 'code' }] } },
        ],
      },
    });
    relays.push(relay);
    const res = await relay.request({ method: 'GET', url: '/v1/sites/pk_test/config', headers: { origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.json.theme).toEqual({ primary: '#0b5d1e', position: 'left', offset: { x: 16, y: '5rem' }, zIndex: 1000 });
    expect(res.json.triggers).toEqual([
      { id: 'cart-help', when: { url: '/cart*', afterSec: 20, attr: { name: 'cart-value', gte: 100 } }, message: { text: 'Questions about your order?', quickReplies: [] }, everyDays: 7 },
      { id: 'leaving', when: { exitIntent: true, returning: false }, message: { text: 'Before you go: 10% off today.', quickReplies: [{ label: 'Get the code', value: 'code' }] }, everyDays: 1 },
    ]);
    expect(parsePublicSiteConfig(res.json)).toEqual(res.json);
  });

  test("a trigger's message comes in the visitor's language when it has one, else as written", async () => {
    const relay = await injectRelay({
      site: { triggers: [{ ...trigger, locales: { fr: { text: 'Une question sur votre commande ?', quickReplies: [{ label: 'Oui', value: 'yes' }] } } }] },
    });
    relays.push(relay);
    const get = async (locale: string) =>
      (await relay.request({ method: 'GET', url: `/v1/sites/pk_test/config?locale=${locale}`, headers: { origin: ORIGIN } })).json.triggers;
    expect(await get('fr-CA')).toEqual([{ id: 'cart-help', when: trigger.when, message: { text: 'Une question sur votre commande ?', quickReplies: [{ label: 'Oui', value: 'yes' }] }, everyDays: 1 }]);
    expect(await get('de')).toEqual([{ id: 'cart-help', when: trigger.when, message: { text: 'Questions about your order?', quickReplies: [] }, everyDays: 1 }]);
  });

  test('a site without them sends neither key', async () => {
    const relay = await injectRelay();
    relays.push(relay);
    const res = await relay.request({ method: 'GET', url: '/v1/sites/pk_test/config', headers: { origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.json).not.toHaveProperty('theme');
    expect(res.json).not.toHaveProperty('triggers');
  });
});
