import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { useBrowserStack } from './stack.js';
import { visitorBubbles, widgetOf } from './widget-page.js';

describeBrowser('state that survives reloads, tabs and lost connections', () => {
  const env = useBrowserStack();

  const messagesWith = (text: string) =>
    env.stack.webhooks.filter((w) => w.type === 'message.created' && JSON.stringify(w.body).includes(text));

  test('a reload keeps the history, without duplicates', async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();
    await w.say('reload keeps me');
    await w.log.getByText('reload keeps me').waitFor();
    await expect.poll(() => messagesWith('reload keeps me').length).toBe(1);

    await page.reload();
    const again = widgetOf(page);
    await again.open();
    await again.log.getByText('reload keeps me').waitFor();
    expect(await visitorBubbles(page, 'reload keeps me').count()).toBe(1);
    await context.close();
  });

  test('two tabs of one browser stay in sync', async () => {
    const context = await env.browser.newContext();
    const a = await context.newPage();
    await a.goto(`${env.stack.shopUrl}/`);
    await widgetOf(a).open();
    const b = await context.newPage();
    await b.goto(`${env.stack.shopUrl}/cart.html`);
    await widgetOf(b).open();

    await widgetOf(a).say('sent from tab A');
    await widgetOf(b).log.getByText('sent from tab A').waitFor();
    await widgetOf(b).say('sent from tab B');
    await widgetOf(a).log.getByText('sent from tab B').waitFor();
    expect(await visitorBubbles(a, 'sent from tab A').count()).toBe(1);
    expect(await visitorBubbles(b, 'sent from tab B').count()).toBe(1);
    await context.close();
  });

  test('a message sent offline is queued and delivered exactly once when back online', async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();

    await context.setOffline(true);
    await w.panel.getByText(/you are offline/i).waitFor();
    await w.say('queued while offline');
    const bubble = visitorBubbles(page, 'queued while offline');
    await bubble.waitFor();
    expect(await bubble.textContent()).toMatch(/sending/i);
    expect(messagesWith('queued while offline')).toEqual([]);

    await context.setOffline(false);
    await expect.poll(() => messagesWith('queued while offline').length, { timeout: 30_000 }).toBe(1);
    await expect.poll(() => bubble.textContent(), { timeout: 15_000 }).toMatch(/sent|read/i);
    // Give a duplicate every chance to show up, then count again.
    await page.waitForTimeout(1500);
    expect(messagesWith('queued while offline').length).toBe(1);
    expect(await visitorBubbles(page, 'queued while offline').count()).toBe(1);
    await context.close();
  });
});
