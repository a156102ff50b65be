import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { screenshot, useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

describeBrowser('the visitor and agent journey in real Chromium', () => {
  const env = useBrowserStack();

  const widget = (page: Page) => page.locator('parley-chat');

  test('a shopper chats with the bot, gets a human, and rates the agent', async () => {
    const shopContext = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    const shop = await shopContext.newPage();
    await shop.goto(`${env.stack.shopUrl}/`);

    // The widget bundle is fetched only after the page's load event.
    const timing = await shop.evaluate(async () => {
      const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
      for (let i = 0; i < 200 && !performance.getEntriesByType('resource').some((e) => e.name.includes('parley.iife.js')); i++) await wait(25);
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const bundle = performance.getEntriesByType('resource').find((e) => e.name.includes('parley.iife.js'));
      return { load: nav.loadEventStart, bundle: bundle?.startTime ?? -1 };
    });
    expect(timing.bundle).toBeGreaterThanOrEqual(timing.load);

    const launcher = widget(shop).getByRole('button', { name: /open chat/i });
    await launcher.waitFor();
    await screenshot(shop, '01-closed');
    await launcher.click();

    // The greeting and its buttons come from the relay's welcome: no webhook yet.
    const panel = widget(shop).getByRole('dialog');
    await panel.getByText('How can we help you today?').waitFor();
    await expect.poll(() => panel.getByRole('button', { name: 'Shipping' }).isVisible()).toBe(true);
    expect(env.stack.webhooks).toEqual([]);
    await screenshot(shop, '02-open-greeting');

    // Tap a button: the bot answers, labelled as the bot.
    await panel.getByRole('button', { name: 'Shipping' }).click();
    const log = panel.getByRole('log');
    await expect.poll(() => env.stack.webhooks.map((w) => w.type)).toContain('postback');
    const botReply = log.locator('.g').filter({ hasText: /ship/i }).last();
    await botReply.waitFor();
    await expect.poll(() => log.locator('.g:not(.v)').last().textContent()).toMatch(/Bot/);

    // Ask about an order: an order card appears.
    const composer = panel.getByRole('textbox', { name: 'Message' });
    await composer.fill('order 1001');
    await composer.press('Enter');
    await log.getByText('Order #1001', { exact: true }).waitFor();
    await screenshot(shop, '03-order-card');

    // Talk to a human: the queue position shows.
    await panel.getByRole('button', { name: 'Talk to a human' }).first().click();
    await panel.getByText(/You are #\d+ in line/).waitFor();
    expect(env.stack.webhooks.map((w) => w.type)).toContain('handoff.requested');

    // The agent takes the conversation in the console and replies.
    const consolePage = await (await env.browser.newContext()).newPage();
    await consolePage.goto(env.stack.consoleUrl);
    const row = consolePage.locator('#conversations [data-conversation-id]').first();
    await row.waitFor();
    await row.click();
    await consolePage.locator('#take').click();
    await consolePage.locator('#reply').fill('Hi, this is Mia. Your order 1001 ships tomorrow.');
    await consolePage.locator('#send').click();

    await log.getByText('Hi, this is Mia. Your order 1001 ships tomorrow.').waitFor();
    await expect.poll(() => panel.locator('header').textContent()).toContain('Mia');
    await expect.poll(() => log.locator('.g:not(.v)').last().textContent()).toContain('Mia');
    await screenshot(shop, '04-agent-reply');

    // The agent closes and asks for a rating; the visitor rates; the console lists it.
    await consolePage.locator('#close-rate').click();
    const stars = panel.getByRole('group', { name: 'How did we do?' });
    await stars.waitFor();
    await screenshot(shop, '05-rating');
    await stars.getByRole('button', { name: '5 stars' }).click();
    await stars.getByRole('textbox').fill('Quick and friendly');
    await stars.getByRole('button', { name: 'Submit' }).click();
    await consolePage.locator('#ratings').getByText('Quick and friendly').waitFor();
    expect(await consolePage.locator('#ratings').textContent()).toMatch(/5/);
    expect(env.stack.webhooks.map((w) => w.type)).toContain('rating.submitted');
    await consolePage.setViewportSize({ width: 1280, height: 800 });
    await screenshot(consolePage, '07-console');
    await panel.getByText('This conversation has ended.').first().waitFor();

    await shopContext.close();
  });

  test('a signed-in shopper shows in the console as a verified customer', async () => {
    const context = await env.browser.newContext();
    const shop = await context.newPage();
    await shop.goto(`${env.stack.shopUrl}/`);
    await shop.getByRole('link', { name: 'Sign in (demo)' }).click();
    await shop.getByRole('link', { name: 'Signed in as Ana Demo' }).waitFor();
    const w = widgetOf(shop);
    await w.open();
    await w.say('hello, signed in');
    await expect
      .poll(() => env.stack.webhooks.some((h) => h.type === 'message.created' && JSON.stringify(h.body).includes('hello, signed in')))
      .toBe(true);
    const hook = env.stack.webhooks.find((h) => JSON.stringify(h.body).includes('hello, signed in'))!;
    expect(hook.body.visitor).toMatchObject({ identity: { userId: 'u_1001', verified: true } });

    const agent = await context.newPage();
    await agent.goto(env.stack.consoleUrl);
    const row = agent.locator('#conversations [data-conversation-id]').filter({ hasText: 'Ana Demo' });
    await row.click();
    await expect.poll(() => agent.locator('#context').textContent()).toMatch(/Ana Demo.*u_1001 verified/);
    await context.close();
  });
});
