import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { CLOSE, ERRORS, ERROR_CODES } from '@parley/protocol';
import { buildApp } from './app.js';
import { LimitsConfig, RelayConfig, SiteConfig, WebhooksConfig } from './config.js';
import { testConfig } from './test-support/harness.js';

const doc = (name: string) => readFileSync(fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url)), 'utf8');

/** The object schema under defaults and optionals, if there is one. */
function objectOf(schema: z.core.$ZodType): z.ZodObject | undefined {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap();
  return s instanceof z.ZodObject ? s : undefined;
}

describe('docs stay in sync with the registry', () => {
  test('every error code is documented in docs/errors.md with its HTTP status', () => {
    const errors = doc('errors.md');
    const missing = ERROR_CODES.filter((code) => !new RegExp(`\\| \`${code}\` \\| ${ERRORS[code].status} \\|`).test(errors));
    expect(missing, 'add these codes to docs/errors.md (| `CODE` | status | meaning | where |)').toEqual([]);
  });

  test('every close code is in the close-code table of docs/protocol.md', () => {
    const protocol = doc('protocol.md');
    const missing = Object.entries(CLOSE).filter(([name, code]) => !new RegExp(`\\| ${code} \\| \`${name}\` \\|`).test(protocol));
    expect(missing, 'add these close codes to docs/protocol.md').toEqual([]);
  });

  test('every frame type has an example in docs/protocol.md', () => {
    const protocol = doc('protocol.md');
    for (const t of ['hello', 'send', 'typing', 'read', 'context', 'ping', 'feedback', 'upload', 'welcome', 'ack', 'msg', 'event', 'error', 'pong', 'draft']) {
      expect(protocol, `frame ${t}`).toContain(`"t": "${t}"`);
    }
  });

  test('every config key is in a table of docs/configuration.md', () => {
    const configuration = doc('configuration.md');
    const keys: string[] = [...Object.keys(RelayConfig.shape), ...Object.keys(LimitsConfig.shape), ...Object.keys(WebhooksConfig.shape)];
    for (const [key, schema] of Object.entries(SiteConfig.shape)) {
      if (key === '$comment') continue;
      const nested = objectOf(schema);
      if (nested) keys.push(...Object.keys(nested.shape).map((sub) => `${key}.${sub}`));
      else keys.push(key);
    }
    expect(keys.length).toBeGreaterThan(25);
    const missing = keys.filter((key) => !configuration.includes(`| \`${key}\` |`));
    expect(missing, 'add these keys to docs/configuration.md').toEqual([]);
  });

  test('every REST route has a section and a curl example in docs/backend-api.md', async () => {
    const api = doc('backend-api.md');
    const app = buildApp(testConfig('http://127.0.0.1:9/hook'), { logger: false });
    const routes: string[] = [];
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        if (method !== 'HEAD' && route.url.startsWith('/v1/') && route.url !== '/v1/widget') routes.push(`${method} ${route.url}`);
      }
    });
    await app.ready();
    await app.close();
    expect(routes.length).toBeGreaterThanOrEqual(6);
    for (const route of routes) {
      const [method, url] = route.split(' ') as [string, string];
      expect(api, route).toContain(`### \`${method} ${url}`);
      // Path parameters are shell variables in the examples: :id is $CONV, :visitorId $VISITOR, :siteKey $SITE_KEY, :messageId $MSG.
      const path = `$RELAY${url.replace(':id', '$CONV').replace(':visitorId', '$VISITOR').replace(':siteKey', '$SITE_KEY').replace(':messageId', '$MSG')}`;
      const curl = api.split('\n').filter((line) => line.startsWith('curl ') && line.includes(path));
      expect(curl.some((line) => (method === 'GET' ? !line.includes('-X ') : line.includes(`-X ${method}`))), `curl for ${route}`).toBe(true);
    }
  });
});
