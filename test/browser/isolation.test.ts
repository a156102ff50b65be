import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

/** The policy from the widget's isolation promise, exactly: the relay's origin over HTTP (site config) and WebSocket. */
const STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' http://127.0.0.1:* ws://127.0.0.1:*";

/** Record CSP violations from the first script on, including inside shadow roots. */
async function recordViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __violations: string[] }).__violations = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`), true);
  });
}
const violations = (page: Page) => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);

describeBrowser('isolation: strict CSP and hostile host CSS', () => {
  const env = useBrowserStack({ csp: STRICT_CSP });

  test('the widget works under a strict CSP with no violation', async () => {
    const page = await env.browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await recordViolations(page);
    const response = await page.goto(`${env.stack.shopUrl}/`);
    expect(response?.headers()['content-security-policy']).toBe(STRICT_CSP);
    const w = widgetOf(page);
    await w.open();
    await w.panel.getByRole('button', { name: 'Shipping' }).click();
    await w.say('order 1001');
    await w.log.getByText('Order #1001', { exact: true }).waitFor();
    // The card's image is loaded from the shop: no violation for it either.
    await expect.poll(() => w.log.locator('img').first().evaluate((img) => (img as HTMLImageElement).complete)).toBe(true);
    expect(await violations(page)).toEqual([]);
    expect(consoleErrors.filter((e) => /content security policy/i.test(e))).toEqual([]);
    await page.close();
  });

  test('hostile host CSS cannot break the widget, and the widget leaves the host alone', async () => {
    const page = await env.browser.newPage();
    await recordViolations(page);
    // Hold the widget bundle back until the host page's own look is recorded.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/parley/parley.iife.js', async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${env.stack.shopUrl}/hostile.html`);
    const probe = () =>
      page.evaluate(() =>
        ['html', 'body', 'title', 'para', 'host-button', 'host-link', 'banner', 'floor'].map((id) => {
          const el = id === 'html' ? document.documentElement : id === 'body' ? document.body : document.getElementById(id)!;
          const s = getComputedStyle(el);
          const r = el.getBoundingClientRect();
          return [id, s.display, s.color, s.backgroundColor, s.fontSize, s.fontFamily, s.letterSpacing, s.zIndex, s.position, s.overflow, r.x, r.y, r.width, r.height].join('|');
        }),
      );
    expect(await page.locator('parley-chat').count()).toBe(0);
    const before = await probe();
    release();

    const w = widgetOf(page);
    await w.launcher.waitFor();
    const box = await w.launcher.boundingBox();
    expect(box && box.width >= 40 && box.height >= 40).toBe(true);
    // Nothing of the host's (position reset, max z-index elements) covers the launcher.
    const onTop = await page.evaluate(([x, y]) => document.elementFromPoint(x!, y!)?.tagName.toLowerCase(), [box!.x + box!.width / 2, box!.y + box!.height / 2]);
    expect(onTop).toBe('parley-chat');
    // Clicking where the launcher is shown must reach the launcher, not the host's elements.
    await w.open();
    await w.say('order 1001');
    await w.log.getByText('Order #1001', { exact: true }).waitFor();
    const sendBox = await w.panel.getByRole('button', { name: 'Send' }).boundingBox();
    expect(sendBox && sendBox.width > 0 && sendBox.height > 0).toBe(true);

    expect(await probe()).toEqual(before);
    expect(await page.evaluate(() => document.querySelectorAll('style').length + document.adoptedStyleSheets.length)).toBe(0);
    expect(await violations(page)).toEqual([]);
    await page.close();
  });
});
