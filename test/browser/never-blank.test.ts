// The widget on the demo shop (its strict CSP included) while the relay is stopped, and the
// small things a visitor meets: keyboard focus after a quick reply, the page's own styles, and
// the launcher over the shop's buttons on a small screen.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startShop, type Shop } from '@parley/demo-shop';
import { buildApp, loadConfig } from '@parley/relay';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';
import { describeBrowser, launchChromium } from './chromium.js';
import { screenshot } from './stack.js';
import { visitorBubbles, widgetOf } from './widget-page.js';

const CONFIG = fileURLToPath(new URL('../../examples/relay.config.json', import.meta.url));
const GREETING = 'Hi! How can we help you today?';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** A webhook the merchant backend received. */
interface Webhook {
  type: string;
  text?: string;
}

describeBrowser('never blank, and the small things', () => {
  const config = loadConfig(CONFIG, {});
  const site = config.sites[0]!;
  let browser: Browser;
  let shop: Shop;
  let backend: RecordingServer<Webhook>;
  let relay: ReturnType<typeof buildApp> | undefined;
  let port = 0;
  /**
   * What the shop's boot.js passes to `Parley('boot', …)` on top of the site key and relay URL;
   * tests add to it. Reconnects are retried within a second, so a relay back is seen at once.
   */
  const boot: Record<string, unknown> = { backoff: { maxMs: 1000 } };

  /** Start the relay (again, on the same port once it has one): the memory engine, webhooks to the recorder. */
  async function startRelay(): Promise<void> {
    const origins = [shop.url, shop.url.replace('127.0.0.1', 'localhost')];
    relay = buildApp({
      ...config,
      engine: { type: 'memory' },
      logLevel: 'silent',
      sites: [{ ...site, allowedOrigins: origins, webhookUrl: `${backend.base}/webhooks/parley` }],
    });
    await relay.listen({ port, host: '127.0.0.1' });
    port = (relay.server.address() as AddressInfo).port;
  }
  async function stopRelay(): Promise<void> {
    await relay?.close();
    relay = undefined;
  }

  beforeAll(async () => {
    backend = await startRecordingServer<Webhook>({
      record: (req) => {
        const body = JSON.parse(req.raw) as { type: string; data?: { message?: { body?: { text?: string } } } };
        return { type: body.type, text: body.data?.message?.body?.text };
      },
    });
    shop = await startShop({ port: 0, host: '127.0.0.1', relayUrl: () => `http://127.0.0.1:${port}`, siteKey: site.siteKey, boot });
    [browser] = await Promise.all([launchChromium(), startRelay()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stopRelay();
    await shop?.close();
    await backend?.close();
  });

  const messagesWith = (text: string) => backend.received.filter((w) => w.type === 'message.created' && w.text === text);
  /** The element focused inside the widget, as "<tag> <accessible name>". */
  const focused = (page: Page) =>
    page.evaluate(() => {
      const el = document.querySelector('parley-chat')?.shadowRoot?.activeElement;
      return el ? `${el.localName} ${el.getAttribute('aria-label') ?? el.textContent}` : '';
    });
  /** Press `key` (Tab or Shift+Tab) until the widget's focused element is `target`. */
  async function tabTo(page: Page, target: string, key = 'Tab'): Promise<void> {
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press(key);
      if ((await focused(page)) === target) return;
    }
    throw new Error(`${key} never reached ${target}`);
  }

  test('the relay is stopped: the panel shows the greeting and "Connecting…", then says it is offline; a message typed meanwhile arrives once the relay is back', { timeout: 60_000 }, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && !/ERR_CONNECTION_REFUSED|WebSocket|Failed to load resource/.test(m.text()) && errors.push(m.text()));
    // A first page while the relay runs: the widget reads the site config, and opens no socket.
    await page.goto(`${shop.url}/`);
    const w = widgetOf(page);
    await w.launcher.waitFor();
    await expect.poll(() => page.evaluate(() => Object.keys(localStorage).some((k) => k.endsWith(':greet')))).toBe(true);

    await stopRelay();
    await page.goto(`${shop.url}/cart.html`);
    await w.launcher.click();
    await w.panel.getByText(GREETING).waitFor();
    await w.panel.getByRole('button', { name: 'Returns' }).waitFor();
    expect(await w.panel.locator('header').textContent()).toContain('Parley Demo Shop');
    await w.panel.getByRole('status').filter({ hasText: 'Connecting…' }).waitFor();
    expect(await w.panel.getByText(/you are offline/i).count()).toBe(0);
    await screenshot(page, 'never-blank-connecting');

    // A few seconds later, the offline notice; "Connecting…" gives way to it.
    await w.panel.getByText(/you are offline/i).waitFor({ timeout: 8000 });
    expect(await w.panel.getByText('Connecting…').count()).toBe(0);
    await w.say('Sent while the relay was down');
    const bubble = visitorBubbles(page, 'Sent while the relay was down');
    await expect.poll(() => bubble.textContent()).toMatch(/sending/i);

    await startRelay();
    await expect.poll(() => messagesWith('Sent while the relay was down').length, { timeout: 20_000 }).toBe(1);
    await expect.poll(() => bubble.textContent(), { timeout: 10_000 }).toMatch(/sent|read/i);
    await w.panel.getByText(/you are offline/i).waitFor({ state: 'detached' });
    await page.waitForTimeout(1000); // a duplicate would have arrived by now
    expect(messagesWith('Sent while the relay was down')).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  test('a first visit while the relay is stopped shows the shop and greeting given at boot, and "Connecting…"; axe finds nothing', async () => {
    Object.assign(boot, { siteName: 'Trailhead Outfitters', greeting: { text: GREETING, quickReplies: [{ label: 'Returns', value: 'returns' }] } });
    await stopRelay();
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${shop.url}/`);
      const w = widgetOf(page);
      await w.launcher.click();
      await w.panel.getByText(GREETING).waitFor();
      expect(await w.panel.locator('header').textContent()).toContain('Trailhead Outfitters');
      await w.panel.getByRole('status').filter({ hasText: 'Connecting…' }).waitFor();
      await page.waitForTimeout(400); // the opening animation: axe measures colours
      expect(await axeViolations(page)).toEqual([]);
      await w.panel.getByText(/you are offline/i).waitFor({ timeout: 8000 });
      expect(await axeViolations(page)).toEqual([]);
    } finally {
      for (const k of ['siteName', 'greeting']) delete boot[k];
      await startRelay();
      await context.close();
    }
  });

  test('keyboard only: a quick reply leaves focus in the composer, at 320 px too', async () => {
    for (const viewport of [{ width: 1280, height: 800 }, { width: 320, height: 640 }]) {
      const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
      const page = await context.newPage();
      await page.goto(`${shop.url}/`);
      const w = widgetOf(page);
      await w.launcher.waitFor();
      await tabTo(page, 'button Open chat');
      await page.keyboard.press('Enter');
      await w.panel.getByText(GREETING).waitFor();
      // Opening puts focus in the composer on a wide screen (back to the greeting's buttons), on the close button on a phone.
      await tabTo(page, 'button Shipping', viewport.width > 640 ? 'Shift+Tab' : 'Tab');
      await page.keyboard.press('Enter');
      await expect.poll(() => focused(page)).toBe('textarea Message');
      await w.panel.getByRole('button', { name: 'Shipping' }).waitFor({ state: 'detached' });
      expect(await focused(page)).toBe('textarea Message');
      // Typing goes straight into the conversation.
      await page.keyboard.type(`asked at ${viewport.width} px`);
      await page.keyboard.press('Enter');
      await visitorBubbles(page, `asked at ${viewport.width} px`).waitFor();
      await context.close();
    }
  });

  test("the page's inherited styles, !important ones too, do not reach the widget's text", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${shop.url}/`);
    const w = await widgetOf(page).open();
    // A constructed stylesheet: the shop's CSP allows no inline <style>.
    await page.evaluate(() => {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync('*{text-transform:uppercase!important;letter-spacing:6px!important;font-style:italic!important}');
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    });
    const style = (el: Element) => {
      const s = getComputedStyle(el);
      return `${s.textTransform} ${s.letterSpacing} ${s.fontStyle}`;
    };
    expect(await page.locator('h1').evaluate(style)).toBe('uppercase 6px italic'); // the page's own text takes the rule
    expect(await w.getByText(GREETING).evaluate(style)).toBe('none normal normal');
    expect(await w.getByRole('button', { name: 'Returns' }).evaluate(style)).toBe('none normal normal');
    await context.close();
  });

  test("at 320 px the launcher is smaller, and with a bottom offset it leaves the shop's 'Add to cart' button free", async () => {
    for (const offset of [undefined, { y: 72 }]) {
      Object.assign(boot, { theme: offset && { offset } });
      const context = await browser.newContext({ viewport: { width: 320, height: 640 }, hasTouch: true });
      const page = await context.newPage();
      await page.goto(`${shop.url}/`);
      const launcher = widgetOf(page).launcher;
      await launcher.waitFor();
      expect(await launcher.boundingBox()).toMatchObject({ width: 48, height: 48 });
      // The button at the bottom of the screen, where a corner launcher sits.
      const button = page.locator('#add-to-cart');
      await button.evaluate((el) => el.scrollIntoView({ block: 'end' }));
      const covered = await button.evaluate((el) => {
        const r = el.getBoundingClientRect();
        const points = [0.02, 0.5, 0.98].flatMap((x) => [0.05, 0.5, 0.95].map((y) => [r.left + r.width * x, r.top + r.height * y] as const));
        return points.filter(([x, y]) => document.elementFromPoint(x, y) !== el).length;
      });
      // Without the offset the launcher may cover a corner of the button, never its middle.
      if (offset) expect(covered).toBe(0);
      else expect(covered).toBeLessThanOrEqual(2);
      await button.tap();
      await page.getByText('Added to your cart.').waitFor();
      await context.close();
    }
    delete boot.theme;
  });
});

interface AxeViolation {
  id: string;
  nodes: { target: unknown }[];
}

/** axe-core on the widget's host element (it walks into the open shadow root). */
async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document.querySelector('parley-chat'), { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}
