// The widget's extras module (parley-extras.js: the rating and leave-a-message forms, past
// conversations, the 👎 comment, cards, ratings and files in the log) in real Chromium, on the
// demo shop under its strict Content-Security-Policy: a page view and a plain chat never fetch
// it; a rating request does, at once, and the form it brings works.
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { eventually, useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

const API_SECRET = 'demo-only-api-secret-change-me'; // examples/relay.config.json

/** The scripts the page fetched, by path, and its CSP violations. */
function watch(page: Page) {
  const seen = { scripts: [] as string[], csp: [] as string[] };
  page.on('request', (r) => r.resourceType() === 'script' && seen.scripts.push(new URL(r.url()).pathname));
  page.on('console', (m) => /Content[- ]Security[- ]Policy/i.test(m.text()) && seen.csp.push(m.text()));
  return seen;
}

describeBrowser('the extras module', () => {
  const env = useBrowserStack();

  const api = (path: string, body: unknown) =>
    fetch(`${env.stack.relayUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('is not fetched on a page view nor for a plain chat; a rating request fetches it at once, and the form it brings sends the rating', async () => {
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.launcher.waitFor();
    await eventually(() => seen.scripts.includes('/parley/parley.iife.js'), 'the bundle');
    await page.waitForTimeout(1000);
    expect(seen.scripts.filter((s) => s.startsWith('/parley/'))).toEqual(['/parley/loader.js', '/parley/parley.iife.js']);

    // A chat with the bot: the greeting, a quick reply, the bot's answer.
    await w.open();
    await w.panel.getByRole('button', { name: 'Shipping' }).click();
    await w.log.locator('.g:not(.v)').filter({ hasText: /ship/i }).last().waitFor();
    await page.waitForTimeout(500);
    expect(seen.scripts).not.toContain('/parley/parley-extras.js');

    // The backend asks for a rating: the module comes, from beside the bundle, and the form shows.
    const conversation = ((await (await fetch(`${env.stack.relayUrl}/v1/conversations`, { headers: { authorization: `Bearer ${API_SECRET}` } })).json()) as { items: { id: string }[] }).items[0]!.id;
    expect((await api(`/v1/conversations/${conversation}/events`, { id: 'rate_1', event: { type: 'rating_request', text: 'How did Mia do?' } })).status).toBe(200);
    const form = w.panel.getByRole('group', { name: 'How did we do?' });
    await form.waitFor();
    expect(seen.scripts.filter((s) => s === '/parley/parley-extras.js')).toEqual(['/parley/parley-extras.js']);
    expect(await form.getByText('How did Mia do?').isVisible()).toBe(true);
    await form.getByRole('button', { name: '4 stars' }).click();
    expect(await form.getByRole('button', { name: '4 stars' }).getAttribute('aria-pressed')).toBe('true');
    // The module's own rules came with it: a chosen star stands out from the others.
    const colour = (name: string) => form.getByRole('button', { name }).evaluate((el) => getComputedStyle(el).color);
    expect(await colour('4 stars')).toBe('rgb(154, 103, 0)');
    expect(await colour('5 stars')).toBe('rgb(110, 119, 129)');
    await form.getByRole('button', { name: 'Submit' }).click();
    await expect.poll(() => env.stack.webhooks.filter((h) => h.type === 'rating.submitted').length).toBe(1);
    // The rating shows in the log, drawn by the module too.
    await w.log.getByText('4 stars').waitFor();
    expect(seen.csp).toEqual([]);
    await context.close();
  });
});
