import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { BUILTIN_STRINGS, EN_STRINGS, STRING_KEYS, formatString, type WidgetStrings } from '@parley/protocol';
import { describeBrowser } from './chromium.js';
import { screenshot, useBrowserStack } from './stack.js';

interface Greeting {
  text: string;
  quickReplies: { label: string; value: string }[];
}
const CONFIG = JSON.parse(readFileSync(fileURLToPath(new URL('../../examples/relay.config.json', import.meta.url)), 'utf8')) as {
  sites: [{ greeting: Greeting; locales: Record<string, { greeting: Greeting }> }];
};
const SITE = CONFIG.sites[0];

/**
 * The English a visitor of `table`'s language must not meet: the pieces of every English string
 * the table translates (the words both share, like "AI", aside), and the site's English greeting
 * and button labels.
 */
function englishFor(table: WidgetStrings): string[] {
  const strings = STRING_KEYS.filter((k) => table[k] !== EN_STRINGS[k]).flatMap((k) =>
    formatString(EN_STRINGS[k], { n: 2, name: 'Mia' })
      .split(/\u2068Mia\u2069|2/)
      .map((part) => part.trim())
      .filter((part) => part.length > 2),
  );
  return [...strings, SITE.greeting.text, ...SITE.greeting.quickReplies.map((b) => b.label)];
}

/**
 * What the widget shows and says of its own: its text, labels and placeholders, with the bodies
 * of the demo bot's answers and the senders' names left out (their wording belongs to the
 * merchant's backend, not to the widget), but the greeting kept.
 */
function widgetText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const root = document.querySelector('parley-chat')!.shadowRoot!.querySelector('.w')!.cloneNode(true) as HTMLElement;
    root.querySelectorAll('.lg > .g:not(.v):not(:first-child) > :not(.t), .z, .t bdi').forEach((el) => el.remove());
    const labels = [...root.querySelectorAll('[aria-label], [placeholder], [title]')].flatMap((el) =>
      ['aria-label', 'placeholder', 'title'].map((a) => el.getAttribute(a) ?? ''),
    );
    return [root.textContent, ...labels].join('\n');
  });
}

async function expectNoEnglish(page: Page, english: string[]): Promise<void> {
  const text = await widgetText(page);
  expect(english.filter((e) => text.includes(e)), text).toEqual([]);
}

/** Where on screen a character of `locator`'s text is. */
async function charBox(locator: Locator, index: number): Promise<{ left: number; right: number }> {
  return locator.evaluate((el, i) => {
    const node = el.firstChild!;
    const range = document.createRange();
    const at = i < 0 ? node.textContent!.length + i : i;
    range.setStart(node, at);
    range.setEnd(node, at + 1);
    const r = range.getBoundingClientRect();
    return { left: r.left, right: r.right };
  }, index);
}

describeBrowser('the widget in the visitor language, in real Chromium', () => {
  const env = useBrowserStack();

  test('zh-CN: the whole journey, from the launcher to the queue for a human, shows no English of the widget', { timeout: 60_000 }, async () => {
    const zh = BUILTIN_STRINGS['zh-CN']!;
    const greeting = SITE.locales['zh-CN']!.greeting;
    const english = englishFor(zh);
    const context = await env.browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const host = page.locator('parley-chat');

    // The Chinese strings come with the site config, before the visitor does anything.
    const launcher = host.getByRole('button', { name: zh.open });
    await launcher.waitFor();
    await launcher.click();
    const panel = host.getByRole('dialog');
    await panel.getByText(greeting.text).waitFor();
    const log = panel.getByRole('log');
    for (const button of greeting.quickReplies) await log.getByRole('button', { name: button.label, exact: true }).waitFor();
    expect(await host.locator('.w').getAttribute('lang')).toBe('zh-CN');
    expect(await panel.getByRole('textbox', { name: zh.message }).getAttribute('placeholder')).toBe(zh.placeholder);
    await expectNoEnglish(page, english);
    await screenshot(page, '30-zh-CN-greeting');

    // A tap: the button's Chinese label is what the visitor said; the bot answers (in its own words).
    await log.getByRole('button', { name: greeting.quickReplies[0]!.label, exact: true }).click();
    await log.locator('.g.v').filter({ hasText: greeting.quickReplies[0]!.label }).waitFor();
    await expect.poll(() => log.locator('.g:not(.v)').count()).toBeGreaterThan(1);
    await expectNoEnglish(page, english);

    // Typed text, then the always-there button for a human: the request, the notice and the queue are Chinese.
    const composer = panel.getByRole('textbox', { name: zh.message });
    await composer.fill('你好');
    await composer.press('Enter');
    await log.locator('.g.v').filter({ hasText: '你好' }).waitFor();
    await panel.getByRole('button', { name: zh.human }).first().click();
    await panel.getByText(zh.handoff).waitFor();
    await panel.getByText(/您当前排在第 \d+ 位/).waitFor();
    await expectNoEnglish(page, english);
    await screenshot(page, '31-zh-CN-queue');

    // Closed again, the launcher is labelled in Chinese too.
    await panel.getByRole('button', { name: zh.close }).click();
    await host.getByRole('button', { name: zh.open }).waitFor();
    await expectNoEnglish(page, english);
    await context.close();
  });

  test('ar (?lang=ar on the demo shop): right to left with Arabic strings, and English text keeps its punctuation at its end', { timeout: 60_000 }, async () => {
    const ar = BUILTIN_STRINGS.ar!;
    const greeting = SITE.locales.ar!.greeting;
    const context = await env.browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/?lang=ar`);
    const host = page.locator('parley-chat');
    const launcher = host.getByRole('button', { name: ar.open });
    await launcher.waitFor();
    // Mirrored: the launcher sits in the bottom-left corner.
    expect((await launcher.boundingBox())!.x).toBeLessThan(640);
    await launcher.click();
    const panel = host.getByRole('dialog');
    const bubble = panel.locator('.x', { hasText: greeting.text });
    await bubble.waitFor();
    expect(await host.locator('.w').evaluate((el) => [el.getAttribute('lang'), getComputedStyle(el).direction])).toEqual(['ar', 'rtl']);
    expect(await bubble.evaluate((el) => getComputedStyle(el).direction)).toBe('rtl');
    const composer = panel.getByRole('textbox', { name: ar.message });
    expect(await composer.getAttribute('placeholder')).toBe(ar.placeholder);
    await panel.locator('header').getByRole('button', { name: ar.human }).waitFor();
    await expectNoEnglish(page, englishFor(ar));

    // The Arabic question mark ends the Arabic question: at its left, the end of a right-to-left line.
    const question = panel.getByRole('log').getByRole('button', { name: greeting.quickReplies[2]!.label, exact: true });
    expect(await question.textContent()).toMatch(/؟$/);
    const [qFirst, qMark] = [await charBox(question, 0), await charBox(question, -1)];
    expect(qMark.right).toBeLessThanOrEqual(qFirst.left + 1);

    // English typed into the Arabic panel reads left to right, its question mark at its right end;
    // empty, the box is right to left, its placeholder on the right.
    expect(await composer.evaluate((el) => getComputedStyle(el).direction)).toBe('rtl');
    await composer.fill('Where is my order?');
    expect(await composer.evaluate((el) => getComputedStyle(el).direction)).toBe('ltr');
    await composer.press('Enter');
    const mine = panel.locator('.g.v .x', { hasText: 'Where is my order?' });
    await mine.waitFor();
    expect(await mine.evaluate((el) => getComputedStyle(el).direction)).toBe('ltr');
    const [first, mark] = [await charBox(mine, 0), await charBox(mine, -1)];
    expect(mark.left).toBeGreaterThanOrEqual(first.right - 1);
    await screenshot(page, '32-ar-rtl');
    await context.close();
  });
});
