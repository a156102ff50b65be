import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { screenshot, useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown; failureSummary?: string }[];
}

/** Run axe-core on the widget's host element; axe walks into its open shadow root. */
async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document.querySelector('parley-chat'), { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
}

/** Run axe-core on a whole page (the agent console). */
async function pageViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
}

/** Press Tab until the focused element (through shadow roots) matches `accessibleName`. */
async function tabTo(page: Page, name: RegExp, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const label = await page.evaluate(() => {
      let el: Element | null = document.activeElement;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      return el ? `${el.getAttribute('aria-label') ?? ''} ${el.textContent ?? ''}`.trim() : '';
    });
    if (name.test(label)) return;
  }
  throw new Error(`Tab never reached ${name}`);
}

describeBrowser('accessibility and small screens', () => {
  const env = useBrowserStack();

  test('axe-core finds no violation on the launcher or in the open panel', async () => {
    const context = await env.browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.launcher.waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await w.open();
    await page.waitForTimeout(400); // let the opening transition finish: axe measures colours
    await w.say('order 1001');
    await w.log.getByText('Order #1001', { exact: true }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await context.close();
  });

  test('at 320×640 the panel is full screen and the journey works by keyboard alone', { timeout: 60_000 }, async () => {
    const context = await env.browser.newContext({ viewport: { width: 320, height: 640 }, reducedMotion: 'reduce' });
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.launcher.waitFor();

    await tabTo(page, /open chat/i);
    await page.keyboard.press('Enter');
    await w.panel.getByText('How can we help you today?').waitFor();
    // Full screen once the opening transition has settled.
    await expect.poll(() => w.panel.boundingBox()).toMatchObject({ x: 0, y: 0, width: 320, height: 640 });
    await screenshot(page, '06-mobile');

    // A quick reply, by keyboard.
    await tabTo(page, /^Returns$/);
    await page.keyboard.press('Enter');
    await expect.poll(() => env.stack.webhooks.some((w) => w.type === 'postback')).toBe(true);

    // Type and send with Enter.
    await tabTo(page, /^Message/);
    await page.keyboard.type('order 1001');
    await page.keyboard.press('Enter');
    await w.log.getByText('Order #1001', { exact: true }).waitFor();

    // Ask for a human.
    await tabTo(page, /talk to a human/i);
    await page.keyboard.press('Enter');
    await w.panel.getByText(/You are #\d+ in line/).waitFor();

    // An agent answers from the console; the visitor reads it with the agent's name.
    const agent = await (await env.browser.newContext()).newPage();
    await agent.goto(env.stack.consoleUrl);
    await agent.locator('#conversations [data-status="waiting"]').first().click();
    // The console passes axe too, with the waiting conversation selected: its "Waiting" badge on
    // the selected row's background.
    expect(await pageViolations(agent)).toEqual([]);
    await agent.locator('#reply').fill('Mia here: your order ships tomorrow.');
    await agent.locator('#reply').press('Enter');
    await w.log.getByText('Mia here: your order ships tomorrow.').waitFor();
    await expect.poll(() => w.panel.locator('header').textContent()).toContain('Mia');

    // The agent closes and asks for a rating; the visitor rates by keyboard alone.
    await agent.locator('#close-rate').click();
    await w.panel.getByRole('group', { name: 'How did we do?' }).waitFor();
    await tabTo(page, /^4 stars/);
    await page.keyboard.press('Enter');
    await tabTo(page, /^Comment/);
    await page.keyboard.type('Rated by keyboard');
    await tabTo(page, /^Submit$/);
    await page.keyboard.press('Enter');
    await agent.locator('#ratings').getByText('Rated by keyboard').waitFor();
    expect(await agent.locator('#ratings li').filter({ hasText: 'Rated by keyboard' }).textContent()).toContain('4/5');
    await agent.context().close();
    // The prompt goes away after Submit, and focus stays in the panel.
    await expect
      .poll(() => page.evaluate(() => document.querySelector('parley-chat')?.shadowRoot?.activeElement?.closest('[role="dialog"]') != null))
      .toBe(true);

    // Esc closes the panel and gives focus back to the launcher.
    await page.keyboard.press('Escape');
    await w.panel.waitFor({ state: 'detached' });
    const focused = await page.evaluate(() => {
      const host = document.querySelector('parley-chat');
      return host?.shadowRoot?.activeElement?.getAttribute('aria-label') ?? '';
    });
    expect(focused).toMatch(/open chat/i);
    await context.close();
  });
});
