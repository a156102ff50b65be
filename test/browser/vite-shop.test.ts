import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

/** The production build of examples/vite-shop (`npm test` builds it first). */
const VITE_SHOP = fileURLToPath(new URL('../../examples/vite-shop/dist/', import.meta.url));

describeBrowser('the Vite storefront (npm package) in real Chromium', () => {
  // The demo shop's server serves the storefront's build under the strict CSP, with the
  // page pointed at this test's relay the way a merchant would: meta tags in the HTML.
  const pageDir = mkdtempSync(join(tmpdir(), 'parley-vite-shop-'));
  const env = useBrowserStack({ staticDirs: [pageDir, VITE_SHOP] });
  beforeAll(() => {
    const html = readFileSync(join(VITE_SHOP, 'index.html'), 'utf8');
    const meta = `<meta name="parley-site-key" content="pk_demo"><meta name="parley-relay-url" content="${env.stack.relayUrl}">`;
    writeFileSync(join(pageDir, 'index.html'), html.replace('<head>', `<head>${meta}`));
  });
  afterAll(() => rmSync(pageDir, { recursive: true, force: true }));

  test('the widget mounts and greets, and an SPA route change reaches the agent console', async () => {
    const shop = await env.browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    shop.on('pageerror', (e) => errors.push(e.message));
    await shop.goto(`${env.stack.shopUrl}/`);
    await shop.getByRole('heading', { name: 'All products' }).waitFor();

    const w = widgetOf(shop);
    await w.open();
    await w.say('hello from the Vite shop');
    await expect.poll(() => env.stack.webhooks.map((h) => h.type)).toContain('conversation.started');

    // A client-side route change (pushState) becomes a context update.
    await shop.getByRole('link', { name: /Ridge Shell Jacket/ }).click();
    await shop.getByRole('heading', { name: 'Ridge Shell Jacket' }).waitFor();
    await expect
      .poll(() => env.stack.webhooks.filter((h) => h.type === 'context.updated').map((h) => JSON.stringify(h.body)).join('\n'))
      .toContain('product=ridge-shell-jacket');

    // The agent sees where the visitor is now.
    const agent = await env.browser.newPage();
    await agent.goto(env.stack.consoleUrl);
    const row = agent.locator('#conversations [data-conversation-id]').first();
    await expect.poll(() => row.locator('.where').textContent()).toContain('Ridge Shell Jacket');
    await row.click();
    await expect.poll(() => agent.locator('#context').textContent()).toContain('Ridge Shell Jacket');
    expect(errors).toEqual([]);
    await agent.close();
    await shop.close();
  });
});
