import { expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { describeBrowser } from './chromium.js';
import { eventually, useBrowserStack } from './stack.js';
import { answerWatch, watchAnswer, widgetOf } from './widget-page.js';

/** The demo AI's answer to a question on payment and shipping: two help entries. */
const LONG =
  'We accept Visa, Mastercard, American Express, PayPal and Apple Pay. Your card is charged when the order ships.\n\n' +
  'Orders placed before 3 pm ship the same day. Delivery takes 2–4 business days in the EU, 5–8 elsewhere. Shipping is free over €50.';
const QUESTION = 'How much is shipping and do you take Visa?';
const WORD_MS = 80;
const STALL_MS = 1000;

/**
 * The model behind the demo AI: it writes a word every WORD_MS, or (for one answer) breaks off
 * after four words, or stops writing after four words until it is told to stop.
 */
let model: 'writes' | 'fails' | 'stalls' = 'writes';
async function* write(text: string, signal: AbortSignal): AsyncGenerator<string> {
  const mode = model;
  const words = text.match(/\S+\s*/g) ?? [];
  for (let i = 0; i < words.length; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, WORD_MS));
    signal.throwIfAborted();
    if (i === 4 && mode === 'fails') throw new Error('The model connection was lost.');
    if (i === 4 && mode === 'stalls') {
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      signal.throwIfAborted();
    }
    yield words[i]!;
  }
}

describeBrowser('streamed AI answers across lost connections, reloads and broken models', () => {
  const env = useBrowserStack({ bot: 'ai', aiWrite: write, relayLimits: { streamStallMs: STALL_MS } });

  async function ask(page: Page) {
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();
    await watchAnswer(page, LONG);
    await w.say(QUESTION);
    return w;
  }

  /** The finished answer shows once, whole, with nothing still being written and no word twice. */
  async function expectWholeAnswerOnce(page: Page) {
    const w = widgetOf(page);
    const answer = w.log.locator('.g', { hasText: 'We accept Visa' });
    await answer.locator('.x', { hasText: 'Shipping is free over €50.' }).waitFor({ timeout: 15_000 });
    await w.panel.locator('.g.z').waitFor({ state: 'detached' });
    expect(await w.panel.locator('.g', { hasText: 'We accept Visa' }).count()).toBe(1);
    expect(await answer.locator('.x').textContent()).toBe(LONG);
    expect(await answer.textContent()).not.toContain('Answer interrupted');
    for (const draft of (await answerWatch(page)).drafts) expect(LONG.startsWith(draft)).toBe(true);
  }

  test('offline mid-answer and back: the whole answer shows once, with no repeated words', { timeout: 60_000 }, async () => {
    model = 'writes';
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const w = await ask(page);
    await w.panel.locator('.g.z', { hasText: 'We accept Visa' }).waitFor();

    await context.setOffline(true);
    await w.panel.getByText(/you are offline/i).waitFor();
    const before = (await answerWatch(page)).drafts.length;
    await page.waitForTimeout(700); // the answer goes on without us
    expect((await answerWatch(page)).drafts.length).toBe(before);
    await context.setOffline(false);

    await expectWholeAnswerOnce(page);
    await context.close();
  });

  test('offline until the answer is finished: it arrives once, whole', { timeout: 60_000 }, async () => {
    model = 'writes';
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const w = await ask(page);
    await w.panel.locator('.g.z', { hasText: 'We accept Visa' }).waitFor();
    await context.setOffline(true);
    await w.panel.getByText(/you are offline/i).waitFor();
    // Wait until the relay has the finished answer (the backend saw it logged), then reconnect.
    const asked = env.stack.webhooks.filter((h) => h.type === 'message.created' && JSON.stringify(h.body).includes(QUESTION)).at(-1)!;
    const conversationId = String(asked.body.conversationId);
    await expect
      .poll(
        async () => {
          const res = await fetch(`${env.stack.backendUrl}/console/api/conversations/${conversationId}`);
          const { entries } = (await res.json()) as { entries: { from?: { ai?: boolean }; seq?: number }[] };
          return entries.some((e) => e.from?.ai && e.seq);
        },
        { timeout: 15_000 },
      )
      .toBe(true);
    await context.setOffline(false);
    await expectWholeAnswerOnce(page);
    await context.close();
  });

  test('a reload mid-answer picks the answer up where it is and shows it once', { timeout: 60_000 }, async () => {
    model = 'writes';
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const w = await ask(page);
    await w.panel.locator('.g.z', { hasText: 'We accept Visa' }).waitFor();

    await page.reload();
    const again = widgetOf(page);
    await again.open();
    await watchAnswer(page, LONG);
    await expectWholeAnswerOnce(page);
    expect(await again.log.locator('.g.v', { hasText: QUESTION }).count()).toBe(1);
    await context.close();
  });

  test('a model that breaks off: the text so far shows as interrupted, and "Talk to a human" still works', { timeout: 60_000 }, async () => {
    model = 'fails';
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const w = await ask(page);
    const broken = w.log.locator('.g', { hasText: 'We accept Visa' });
    await broken.getByText('Answer interrupted').waitFor();
    // What the relay held when it stopped: the start of the answer, no more.
    const brokenText = (await broken.locator('.x').textContent()) ?? '';
    expect(brokenText).toMatch(/^We accept/);
    expect('We accept Visa, Mastercard, '.startsWith(brokenText)).toBe(true);
    await w.panel.locator('.g.z').waitFor({ state: 'detached' });
    // The AI says it broke off and offers a human.
    await w.log.getByText('Sorry, my answer broke off.', { exact: false }).waitFor();

    const handoffs = env.stack.webhooks.filter((h) => h.type === 'handoff.requested').length;
    await w.panel.locator('header').getByRole('button', { name: 'Talk to a human' }).click();
    await w.panel.getByText(/You are #\d+ in line/).waitFor();
    await eventually(() => env.stack.webhooks.filter((h) => h.type === 'handoff.requested').length > handoffs, 'the handoff webhook');
    await context.close();
  });

  test('a model that stops writing: the relay closes the answer as interrupted, and "Talk to a human" still works', { timeout: 60_000 }, async () => {
    model = 'stalls';
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const w = await ask(page);
    const stalled = w.log.locator('.g', { hasText: 'We accept Visa' });
    await stalled.getByText('Answer interrupted').waitFor({ timeout: 15_000 });
    // What the relay held when it stopped: the start of the answer, no more.
    const stalledText = (await stalled.locator('.x').textContent()) ?? '';
    expect(stalledText).toMatch(/^We accept/);
    expect('We accept Visa, Mastercard, '.startsWith(stalledText)).toBe(true);
    await w.panel.locator('.g.z').waitFor({ state: 'detached' });

    const handoffs = env.stack.webhooks.filter((h) => h.type === 'handoff.requested').length;
    await w.panel.locator('header').getByRole('button', { name: 'Talk to a human' }).click();
    await w.panel.getByText(/You are #\d+ in line/).waitFor();
    await eventually(() => env.stack.webhooks.filter((h) => h.type === 'handoff.requested').length > handoffs, 'the handoff webhook');
    // Asking for a human released the hung model: the backend has nothing left running.
    await env.stack.backend.settled();
    await context.close();
  });
});
