import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { screenshot, useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's violations on the widget (it walks into the open shadow root). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }).axe;
    const result = await axe.run(document.querySelector('parley-chat'), { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  });
}

/** The accessible name of the focused element, through the shadow root. */
const focused = (page: Page) =>
  page.evaluate(() => {
    let el: Element | null = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return el ? (el.getAttribute('aria-label') ?? el.textContent ?? '').trim() : '';
  });

describeBrowser('past conversations in real Chromium', () => {
  const env = useBrowserStack();

  test('after the agent closed a chat and the visitor started a new one, the first one opens read-only from "Past conversations"', async () => {
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    const shop = await context.newPage();
    await shop.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(shop);
    const panel = await w.open();
    await w.say('Where is order 1001?');
    await w.log.getByText('Order #1001', { exact: true }).waitFor();

    // The agent closes the conversation from the console.
    const agent = await (await env.browser.newContext()).newPage();
    await agent.goto(env.stack.consoleUrl);
    await agent.locator('#conversations [data-conversation-id]').first().click();
    await agent.locator('#close-rate').click();
    await panel.getByText('This conversation has ended.').first().waitFor();

    // A new conversation.
    await panel.getByRole('button', { name: 'Start a new conversation' }).click();
    await w.composer.waitFor();
    await w.say('A different question');
    await w.log.getByText('A different question').waitFor();
    await expect.poll(() => w.log.getByText('Where is order 1001?').count()).toBe(0);

    // By keyboard: the header's button lists the first conversation, with its preview.
    const pastButton = panel.getByRole('button', { name: 'Past conversations' });
    await pastButton.focus();
    await shop.keyboard.press('Enter');
    await panel.getByText('Past conversations', { exact: true }).waitFor();
    expect(await focused(shop)).toBe('Back');
    const items = panel.locator('.pl .g button');
    await expect.poll(() => items.count()).toBe(1);
    expect(await items.first().textContent()).toMatch(/Order #1001|1001/);
    // The chat's composer is out of the way meanwhile.
    expect(await w.composer.isVisible()).toBe(false);
    expect(await axeViolations(shop)).toEqual([]);
    await screenshot(shop, 'past-01-list');

    await shop.keyboard.press('Tab');
    await shop.keyboard.press('Enter');
    const transcript = panel.locator('.pv');
    await transcript.getByText('Where is order 1001?').waitFor();
    await transcript.getByText('Order #1001', { exact: true }).waitFor();
    await transcript.getByText('This conversation has ended.').waitFor();
    expect(await focused(shop)).toBe('Back');
    // Read-only: no buttons to press in it, no composer; only Back leads on.
    const visibleButtons = await transcript.locator('button').evaluateAll((bs) => bs.filter((b) => (b as HTMLElement).offsetParent !== null).length);
    expect(visibleButtons).toBe(0);
    expect(await w.composer.isVisible()).toBe(false);
    expect(await transcript.getByText('A different question').count()).toBe(0);
    expect(await axeViolations(shop)).toEqual([]);
    await screenshot(shop, 'past-02-transcript');

    // Back to the list, then back to the chat, which went on meanwhile.
    await shop.keyboard.press('Enter');
    await expect.poll(() => items.count()).toBe(1);
    await panel.getByRole('button', { name: 'Back' }).click();
    await w.composer.waitFor();
    expect(await w.log.getByText('A different question').count()).toBe(1);
    expect(await w.log.getByText('Where is order 1001?').count()).toBe(0);
    await context.close();
  });
});
