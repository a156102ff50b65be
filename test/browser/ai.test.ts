import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { screenshot, useBrowserStack } from './stack.js';
import { answerWatch, watchAnswer, widgetOf } from './widget-page.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The demo AI's answer to a shipping question: the shop's help entry, word for word. */
const SHIPPING =
  'Orders placed before 3 pm ship the same day. Delivery takes 2–4 business days in the EU, 5–8 elsewhere. Shipping is free over €50.';

async function axeViolations(page: Page): Promise<unknown[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; help: string; nodes: { target: unknown }[] }[] }> } }).axe;
    const result = await axe.run(document.querySelector('parley-chat'), { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, help: v.help, targets: v.nodes.map((n) => n.target) }));
  });
}

describeBrowser('streamed AI answers', () => {
  // The demo backend answers typed questions with its AI, a word every 60 ms, as `npm start` does.
  const env = useBrowserStack({ bot: 'ai', aiWordMs: 60 });

  test('the answer streams in at once, lands once with its sources and the AI label; 👍 and 👎 reach the backend and its console', { timeout: 60_000 }, async () => {
    const context = await env.browser.newContext({ bypassCSP: true, reducedMotion: 'reduce' });
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();
    await watchAnswer(page, SHIPPING);
    await w.say('How long does shipping take?');

    // The first words show while the rest is still being written.
    const writing = w.panel.locator('.g.z');
    await writing.waitFor();
    expect(await writing.textContent()).toMatch(/Orders/);
    await screenshot(page, '20-ai-answer-streaming');

    // The finished answer: once, in the log, labelled AI, with its source.
    const answer = w.log.locator('.g', { hasText: 'Orders placed before 3 pm' });
    await answer.locator('.x', { hasText: 'Shipping is free over €50.' }).waitFor();
    await writing.waitFor({ state: 'detached' });
    expect(await w.panel.locator('.g', { hasText: 'Orders placed before 3 pm' }).count()).toBe(1);
    expect(await answer.locator('.x').textContent()).toBe(SHIPPING);
    expect(await answer.locator('.bd').textContent()).toBe('AI');
    expect(await answer.textContent()).toContain('Parley AI');
    const source = answer.getByRole('link', { name: 'Shipping and delivery times' });
    expect(await source.getAttribute('href')).toBe(`${env.stack.shopUrl}/help.html#shipping`);
    expect(await source.getAttribute('rel')).toMatch(/noopener/);

    const seen = await answerWatch(page);
    expect(seen.sentAt).toBeGreaterThan(0);
    expect(seen.firstAt - seen.sentAt).toBeLessThan(500);
    // It grew word by word: every text it showed is the start of the answer, never a repeat.
    expect(seen.drafts.length).toBeGreaterThan(2);
    for (const draft of seen.drafts) expect(SHIPPING.startsWith(draft)).toBe(true);

    // 👍: a signed message.feedback webhook, verified by the demo backend and listed in its console.
    const up = answer.getByRole('button', { name: 'Helpful', exact: true });
    await up.click();
    await expect.poll(() => up.getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => env.stack.webhooks.filter((h) => h.type === 'message.feedback').length).toBe(1);
    const webhook = env.stack.webhooks.find((h) => h.type === 'message.feedback')!;
    const { messageId, value } = webhook.body.data as { messageId: string; value: string };
    expect(value).toBe('up');
    const conversationId = String(webhook.body.conversationId);
    const feedback = async () => ((await (await fetch(`${env.stack.backendUrl}/console/api/state`)).json()) as { feedback: { messageId: string; value: string; comment?: string }[] }).feedback;
    await expect.poll(feedback).toEqual([expect.objectContaining({ conversationId, messageId, value: 'up' })]);

    // With the answer and its feedback controls on screen, axe finds nothing.
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, '21-ai-answer-rated');

    // 👎 with a comment: the latest choice replaces the first, comment included.
    await answer.getByRole('button', { name: 'Not helpful' }).click();
    const comment = w.panel.getByRole('textbox', { name: /comment/i });
    await comment.fill('I ship to Norway');
    await comment.press('Enter');
    await expect.poll(feedback).toEqual([expect.objectContaining({ messageId, value: 'down', comment: 'I ship to Norway' })]);
    expect(await axeViolations(page)).toEqual([]);

    // The console marks the AI's answer and shows the feedback on it and in its list.
    const agent = await (await env.browser.newContext()).newPage();
    await agent.goto(`${env.stack.consoleUrl}#${conversationId}`);
    const line = agent.locator(`#transcript li[data-entry-id="${messageId}"]`);
    await line.waitFor();
    expect(await line.getAttribute('data-ai')).toBe('true');
    expect(await line.locator('.from').textContent()).toMatch(/^Parley AI · AI · /);
    expect(await line.locator('[data-feedback]').textContent()).toBe('👎 Not helpful — “I ship to Norway”');
    expect(await line.getByRole('link', { name: 'Shipping and delivery times' }).count()).toBe(1);
    const listed = agent.locator(`#feedback li[data-feedback-for="${messageId}"]`);
    expect(await listed.getAttribute('data-value')).toBe('down');
    expect(await listed.textContent()).toContain('I ship to Norway');
    await screenshot(agent, '22-console-ai-feedback');
    await agent.context().close();
    await context.close();
  });

  test('a question the shop has no answer for is said to be unanswered, with a human one tap away', async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();
    await w.say('Can a llama wear these?');
    const answer = w.log.locator('.g', { hasText: "couldn't find anything about that" });
    await answer.locator('.x', { hasText: 'Talk to a human' }).waitFor();
    expect(await answer.getByRole('link').count()).toBe(0); // nothing to cite
    await answer.getByRole('button', { name: 'Talk to a human' }).click();
    await w.panel.getByText(/You are #\d+ in line/).waitFor();
    await context.close();
  });

  test('a Chinese question is answered in Chinese', async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();
    await w.say('可以退货吗？');
    const answer = w.log.locator('.g', { hasText: '30 天内可免费退货' });
    await answer.getByRole('link', { name: '退货与退款' }).waitFor();
    await context.close();
  });
});
