// Proactive messages and the site's theme in real Chromium, on the demo shop under its strict
// Content-Security-Policy: a trigger of the relay config shows its bubble with no socket before it
// (the trigger is the intent that connects), a message to a closed panel shows in the bubble, and the theme
// set once in the relay config dresses the launcher.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { eventually, screenshot, useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

const API_SECRET = 'demo-only-api-secret-change-me'; // examples/relay.config.json
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TRIGGER_TEXT = 'Questions before you head out on the trail?';

/** Everything the page sees: its sockets, the scripts it loaded, and CSP violations. */
function watch(page: Page) {
  const seen = { sockets: [] as string[], scripts: [] as string[], csp: [] as string[] };
  page.on('websocket', (ws) => seen.sockets.push(ws.url()));
  page.on('request', (r) => r.resourceType() === 'script' && seen.scripts.push(new URL(r.url()).pathname));
  page.on('console', (m) => /Content[- ]Security[- ]Policy/i.test(m.text()) && seen.csp.push(m.text()));
  return seen;
}

describeBrowser('proactive messages', () => {
  const env = useBrowserStack({
    site: {
      theme: { primary: '#0b5d1e', position: 'left' },
      triggers: [
        {
          id: 'help-page',
          when: { url: '/help.html*', afterSec: 2 },
          message: { text: TRIGGER_TEXT, quickReplies: [{ label: 'Shipping', value: 'shipping' }] },
          everyDays: 1,
        },
      ],
    },
  });

  test('a time-on-page trigger shows its bubble with no socket opened before it; the socket opens with it; a tap on its quick reply sends it', async () => {
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${env.stack.shopUrl}/help.html`);
    const w = widgetOf(page);
    await w.launcher.waitFor();
    const bubble = w.host.getByRole('status').filter({ hasText: TRIGGER_TEXT });
    // Not before its time: the bubble waits for two seconds on the page.
    await eventually(() => seen.scripts.includes('/parley/parley-triggers.js'), 'the trigger code, loaded because the config has a trigger');
    expect(await bubble.count()).toBe(0);
    await bubble.waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => performance.now())).toBeGreaterThan(2000);
    // Shown: a trigger is intent, so the socket opens with it, but nothing is stored until the visitor acts.
    await eventually(() => seen.sockets.length === 1, 'the socket, opened by the trigger');
    await page.waitForTimeout(500);
    expect(env.stack.webhooks).toEqual([]);
    await screenshot(page, 'proactive-bubble');

    // The site's theme from the relay config: the launcher on the left, in the site's green.
    const launcher = await w.launcher.boundingBox();
    expect(launcher!.x).toBeLessThan(100);
    expect(await w.launcher.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(11, 93, 30)');

    await w.host.getByRole('button', { name: 'Shipping' }).click();
    await page.waitForTimeout(200);
    expect(seen.sockets).toHaveLength(1);
    // The backend gets the visitor's answer as a postback, as from any quick reply.
    await expect
      .poll(() => env.stack.webhooks.filter((h) => h.type === 'postback').map((h) => (h.body.data as { message: { body: unknown } }).message.body))
      .toEqual([{ type: 'postback', value: 'shipping', label: 'Shipping' }]);
    // The panel opened on the message the visitor answered, then their answer.
    await w.panel.waitFor();
    expect(await w.log.locator('.g').first().textContent()).toContain(TRIGGER_TEXT);
    await expect.poll(() => w.log.locator('.g.v').filter({ hasText: 'Shipping' }).textContent(), { timeout: 10_000 }).toMatch(/Sent|Read/);
    expect(await bubble.count()).toBe(0);
    expect(seen.csp).toEqual([]);

    // Once a day: the next page shows no bubble.
    await page.goto(`${env.stack.shopUrl}/help.html`);
    await w.launcher.waitFor();
    await page.waitForTimeout(3500);
    expect(await w.host.locator('.bb').count()).toBe(0);
    await context.close();
  });

  test('a backend message to a closed panel shows the bubble, and a tap on it opens the conversation', async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();
    await w.say('Is the Trail Runner 2 waterproof?');
    await expect.poll(() => env.stack.webhooks.some((h) => JSON.stringify(h.body).includes('Trail Runner 2 waterproof'))).toBe(true);
    const conversationId = String(env.stack.webhooks.find((h) => JSON.stringify(h.body).includes('Trail Runner 2 waterproof'))!.body.conversationId);
    await w.panel.getByRole('button', { name: /close chat/i }).first().click();
    await w.panel.waitFor({ state: 'detached' });

    const res = await fetch(`${env.stack.relayUrl}/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'agent-waterproof', from: { role: 'agent', name: 'Mia' }, body: { type: 'text', text: 'Yes: it has a waterproof membrane.' } }),
    });
    expect(res.status).toBe(201);
    const bubble = w.host.getByRole('status').filter({ hasText: 'Yes: it has a waterproof membrane.' });
    await bubble.waitFor({ timeout: 10_000 });
    expect(await w.host.locator('.l .b').textContent()).toBe('1');
    await screenshot(page, 'proactive-message-bubble');

    await bubble.getByRole('button', { name: 'Yes: it has a waterproof membrane.' }).click();
    await w.panel.waitFor();
    await w.log.getByText('Yes: it has a waterproof membrane.').waitFor();
    expect(await w.host.locator('.bb').count()).toBe(0);
    expect(seen.sockets).toHaveLength(1);
    expect(seen.csp).toEqual([]);
    await context.close();
  });

  test('axe-core finds no violation with the bubble showing', async () => {
    // axe is injected as a script: this page alone runs without the CSP.
    const context = await env.browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.launcher.waitFor();
    await page.evaluate(() =>
      (window as unknown as { Parley(...a: unknown[]): void }).Parley('show', {
        text: 'Free returns within 30 days. Need a hand with sizes?',
        quickReplies: [{ label: 'Size guide', value: 'sizes' }, { label: 'Talk to a human', value: 'parley:human' }],
      }),
    );
    await w.host.getByRole('status').filter({ hasText: 'Free returns' }).waitFor();
    await page.evaluate(AXE);
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }).axe;
      const result = await axe.run(document.querySelector('parley-chat'), { resultTypes: ['violations'] });
      return result.violations.map((v) => ({ id: v.id, targets: v.nodes.map((n) => n.target) }));
    });
    expect(violations).toEqual([]);
    // Keyboard: Tab reaches the bubble's text, its quick replies and Dismiss, each a labelled button.
    expect(await w.host.getByRole('button', { name: 'Dismiss' }).count()).toBe(1);
    await context.close();
  });
});
