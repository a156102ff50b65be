import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { eventually, screenshot, useBrowserStack } from './stack.js';
import { visitorBubbles, widgetOf } from './widget-page.js';

describeBrowser('typing and read, both ways, in real Chromium', () => {
  const env = useBrowserStack();

  test('the agent sees the visitor typing, and the visitor sees "Read"', async () => {
    const shopContext = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    const shop = await shopContext.newPage();
    await shop.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(shop);
    await w.open();
    await w.say('hello from the typing test');
    // Until the agent has looked, the visitor's message is sent, not read.
    const mine = visitorBubbles(shop, 'hello from the typing test');
    await expect.poll(() => mine.textContent(), { timeout: 10_000 }).toMatch(/Sent/);
    await eventually(() => env.stack.webhooks.some((h) => h.type === 'conversation.started'), 'the conversation to start');
    const conversationId = String(env.stack.webhooks.find((h) => h.type === 'conversation.started')!.body.conversationId);

    // The agent opens the conversation in the console.
    const agentContext = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const agent = await agentContext.newPage();
    await agent.goto(env.stack.consoleUrl);
    const row = agent.locator(`#conversations [data-conversation-id="${conversationId}"]`);
    await row.click();
    await agent.locator('#transcript').getByText('hello from the typing test').waitFor();
    await expect.poll(() => agent.locator('#visitor-typing').isVisible()).toBe(false);

    // Looking at it marks it read: the visitor's message now says "Read".
    await expect.poll(() => mine.textContent(), { timeout: 10_000 }).toMatch(/Read/);

    // The visitor types (without sending): the agent sees it, in the list and under the transcript.
    await w.composer.pressSequentially('Do you ship to', { delay: 20 });
    await expect.poll(() => agent.locator('#visitor-typing').isVisible(), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => row.textContent()).toContain('typing…');
    await screenshot(agent, 'typing-read-console-typing');
    // A burst of keystrokes is not a burst of webhooks: one "on" went, no more.
    expect(env.stack.webhooks.filter((h) => h.type === 'visitor.typing').map((h) => (h.body.data as { on: boolean }).on)).toEqual([true]);

    // Cleared: the agent sees it stop.
    await w.composer.fill('');
    await expect.poll(() => agent.locator('#visitor-typing').isVisible(), { timeout: 10_000 }).toBe(false);

    // The agent answers; the visitor, with the panel open, reads it: the console marks it "seen".
    await agent.locator('#reply').fill('Yes, we ship to Norway.');
    await agent.locator('#reply').press('Enter');
    await shop.locator('parley-chat').getByRole('log').getByText('Yes, we ship to Norway.').waitFor();
    const answer = agent.locator('#transcript .msg[data-role="agent"]').filter({ hasText: 'Yes, we ship to Norway.' });
    await expect.poll(() => answer.getAttribute('data-seen'), { timeout: 10_000 }).toBe('true');
    await expect.poll(() => answer.textContent()).toContain('Seen');
    await screenshot(agent, 'typing-read-console-seen');
    await screenshot(shop, 'typing-read-widget-read');

    // A message sent after the agent looked is read as soon as it arrives in the open console.
    await w.say('great, thanks');
    await expect.poll(() => visitorBubbles(shop, 'great, thanks').textContent(), { timeout: 10_000 }).toMatch(/Read/);

    await agentContext.close();
    await shopContext.close();
  });
});
