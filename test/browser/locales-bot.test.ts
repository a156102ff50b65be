import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { BUILTIN_STRINGS, EN_STRINGS, STRING_KEYS, formatString, type WidgetStrings } from '@parley/protocol';
import { describeBrowser } from './chromium.js';
import { screenshot, useBrowserStack, type Stack } from './stack.js';

// The demo bot in the visitor's language: not only the widget's own strings (locales.test.ts) but
// all the demo backend writes — the bot's answers and buttons, its name, product and order cards
// with their prices and dates, and the handoff notice.

interface Greeting {
  text: string;
  quickReplies: { label: string; value: string }[];
}
const CONFIG = JSON.parse(readFileSync(fileURLToPath(new URL('../../examples/relay.config.json', import.meta.url)), 'utf8')) as {
  sites: [{ greeting: Greeting; locales: Record<string, { greeting: Greeting }> }];
};
const SITE = CONFIG.sites[0];

/** Names that stay as written in every language: the shop, the brand, the product lines, the AI badge. */
const NAMES = /Parley Demo Shop|Parley|Trail Runner 2|Ridge|(?<!\p{Script=Latin})AI(?!\p{Script=Latin})/gu;

/** A visitor: where they open the shop, in which language, and what they type. */
interface Visitor {
  locale: string;
  /** The shop page: `?lang=ar` boots the widget in Arabic. */
  path: string;
  /** The browser's language (`navigator.language`). */
  browserLocale: string;
  strings: WidgetStrings;
  greeting: Greeting;
  /** A product question and an order question, in the visitor's words. */
  product: string;
  order: string;
}

const EN: Visitor = {
  locale: 'en',
  path: '/',
  browserLocale: 'en-US',
  strings: EN_STRINGS,
  greeting: SITE.greeting,
  product: 'Do you have running shoes?',
  order: 'Where is order 1001?',
};
const ZH: Visitor = {
  locale: 'zh-CN',
  path: '/',
  browserLocale: 'zh-CN',
  strings: BUILTIN_STRINGS['zh-CN']!,
  greeting: SITE.locales['zh-CN']!.greeting,
  product: '有跑鞋吗？',
  order: '我的订单 1001 到哪了？',
};
const AR: Visitor = {
  locale: 'ar',
  path: '/?lang=ar',
  browserLocale: 'en-US',
  strings: BUILTIN_STRINGS.ar!,
  greeting: SITE.locales.ar!.greeting,
  product: 'هل لديكم أحذية للجري؟',
  // Arabic-Indic digits, as an Arabic keyboard types them.
  order: 'أين طلبي ١٠٠١؟',
};

/** The English a visitor of `table`'s language must not meet from the widget: every string the table translates, and the English greeting. */
function widgetEnglish(table: WidgetStrings): string[] {
  const strings = STRING_KEYS.filter((k) => table[k] !== EN_STRINGS[k]).flatMap((k) =>
    formatString(EN_STRINGS[k], { n: 2, name: 'Mia' })
      .split(/\u2068Mia\u2069|2/)
      .map((part) => part.trim())
      .filter((part) => part.length > 2),
  );
  return [...strings, SITE.greeting.text, ...SITE.greeting.quickReplies.map((b) => b.label)];
}

/** All the widget shows: its text (the bot's messages, names and cards included) and its labels. */
function panelText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const root = document.querySelector('parley-chat')!.shadowRoot!.querySelector('.w')!;
    const labels = [...root.querySelectorAll('[aria-label], [placeholder], [title]')].flatMap((el) =>
      ['aria-label', 'placeholder', 'title'].map((a) => el.getAttribute(a) ?? ''),
    );
    return [root.textContent, ...labels].join('\n');
  });
}

/** What the bot showed, piece by piece: its names, texts, buttons and card lines. */
function botPieces(log: Locator): Promise<string[]> {
  return log.locator('.g:not(.v)').evaluateAll((bubbles) =>
    bubbles.flatMap((g) => [...g.querySelectorAll('.t bdi, .x, .c b, .c p, .q button, .q a')].map((el) => el.textContent!.trim())),
  );
}

/** The English phrases of the bot's side of the English journey (a price, an order number or a product name alone aside). */
function phrases(pieces: string[]): string[] {
  return [...new Set(pieces)].filter((p) => /\p{L}{2}/u.test(p.replace(NAMES, '')));
}

/** Fail with the English found: any phrase of `english`, or any word in Latin letters but the names. */
async function expectNoEnglish(page: Page, english: string[]): Promise<void> {
  const text = await panelText(page);
  expect(english.filter((e) => text.includes(e)), text).toEqual([]);
  expect(text.replace(NAMES, '').match(/\p{Script=Latin}{2,}/gu) ?? [], text).toEqual([]);
}

/**
 * The journey: open the chat; tap the greeting's first button (shipping); in the bot's answer,
 * tap its first button (returns), then its order-status button; ask about a product, then about
 * order 1001, and see both cards; tap the order card's "talk to a human" and see the queue.
 * `check` runs after every step, with its name.
 */
async function journey(browser: Browser, stack: Stack, v: Visitor, check: (page: Page, step: string) => Promise<void>): Promise<{ page: Page; log: Locator }> {
  const context = await browser.newContext({ locale: v.browserLocale, viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
  const page = await context.newPage();
  await page.goto(stack.shopUrl + v.path);
  const host = page.locator('parley-chat');
  await host.getByRole('button', { name: v.strings.open }).click();
  const panel = host.getByRole('dialog');
  const log = panel.getByRole('log');
  await log.getByText(v.greeting.text).waitFor();
  await check(page, 'greeting');

  const bots = log.locator('.g:not(.v)');
  const answered = async (act: () => Promise<void>) => {
    const before = await bots.count();
    await act();
    await expect.poll(() => bots.count()).toBeGreaterThan(before);
  };
  const tap = (index: number) => answered(() => bots.last().locator('.q button').nth(index).click());

  await answered(() => log.getByRole('button', { name: v.greeting.quickReplies[0]!.label, exact: true }).click());
  await check(page, 'shipping');
  // The answer's menu leaves out the topic it answered: returns first, then sizes and order status.
  await tap(0);
  await check(page, 'returns');
  await tap(2);
  await check(page, 'order status');

  const composer = panel.getByRole('textbox', { name: v.strings.message });
  const cards = log.locator('.c');
  await composer.fill(v.product);
  await composer.press('Enter');
  await expect.poll(() => cards.count()).toBe(1);
  await check(page, 'product card');
  await composer.fill(v.order);
  await composer.press('Enter');
  await expect.poll(() => cards.count()).toBe(2);
  await expect.poll(() => bots.last().locator('.c').count()).toBe(1);
  await check(page, 'order card');

  await cards.last().locator('.q button').last().click();
  const queue = new RegExp(v.strings.queue.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace('{n}', '\\d+'));
  await panel.getByRole('status').filter({ hasText: queue }).waitFor();
  await check(page, 'queue');
  return { page, log };
}

describeBrowser('the demo bot in the visitor language, in real Chromium', () => {
  const env = useBrowserStack();

  /** What the bot says on the English journey: the phrases no other language may show. */
  let english: string[] = [];
  const englishJourney = async () => {
    if (english.length) return english;
    const { page, log } = await journey(env.browser, env.stack, EN, async () => {});
    const pieces = await botPieces(log);
    // The English journey is the reference: its card is the English order card.
    expect(pieces).toContain('Order #1001');
    expect(pieces).toContain('Parley Bot');
    english = phrases(pieces);
    await page.context().close();
    return english;
  };

  test('zh-CN: the whole journey — answers, buttons, the bot name, product and order cards, the queue — shows no English', { timeout: 90_000 }, async () => {
    const bot = await englishJourney();
    const forbidden = [...bot, ...widgetEnglish(ZH.strings)];
    const { page, log } = await journey(env.browser, env.stack, ZH, (p) => expectNoEnglish(p, forbidden));
    // What the cards say, in Chinese and written the Chinese way.
    const order = log.locator('.c').last();
    expect(await order.locator('b').textContent()).toBe('订单 #1001');
    expect(await order.locator('p').first().textContent()).toMatch(/^已发货 — 预计 \d{1,2}月\d{1,2}日送达$/);
    expect(await order.locator('.pr').textContent()).toBe('€129.00');
    expect(await order.locator('.q').getByText('转人工').count()).toBe(1);
    expect(await log.locator('.c').first().locator('b').textContent()).toBe('Trail Runner 2 越野跑鞋');
    expect(await log.locator('.g:not(.v) .t bdi').first().textContent()).toBe('Parley 机器人 ');
    expect(await log.locator('.g:not(.v) .x').last().textContent()).toMatch(/^正在为您转接人工客服，您前面还有 \d+ 位，请稍候。$/);
    await screenshot(page, '33-zh-CN-bot-order-card');
    await page.context().close();
  });

  test('ar: the panel is right to left and every bot message, name and card is Arabic', { timeout: 90_000 }, async () => {
    const bot = await englishJourney();
    const forbidden = [...bot, ...widgetEnglish(AR.strings)];
    const { page, log } = await journey(env.browser, env.stack, AR, (p) => expectNoEnglish(p, forbidden));
    const w = page.locator('parley-chat').locator('.w');
    expect(await w.evaluate((el) => [el.getAttribute('lang'), getComputedStyle(el).direction])).toEqual(['ar', 'rtl']);

    // Every message of the bot after the greeting: signed in Arabic, written in Arabic, laid out right to left.
    const bubbles = await log.locator('.g:not(.v)').evaluateAll((gs) =>
      gs.slice(1).map((g) => ({
        name: g.querySelector('.t bdi')?.textContent ?? '',
        texts: [...g.querySelectorAll('.x, .c b, .c p:not(.pr), .q button, .q a')].map((el) => el.textContent ?? ''),
        dirs: [...g.querySelectorAll('.x, .c')].map((el) => getComputedStyle(el).direction),
      })),
    );
    expect(bubbles.length).toBeGreaterThan(5);
    for (const b of bubbles) {
      expect(b.name).toBe('روبوت Parley ');
      for (const t of b.texts) expect(t).toMatch(/[\u0600-\u06ff]/);
      expect(b.dirs.every((d) => d === 'rtl'), JSON.stringify(b)).toBe(true);
    }
    const order = log.locator('.c').last();
    expect(await order.locator('b').textContent()).toBe('الطلب رقم 1001');
    expect(await order.locator('p').first().textContent()).toMatch(/^تم الشحن — موعد الوصول المتوقع \d{1,2} \p{Script=Arabic}+$/u);
    expect((await order.locator('.pr').textContent())!.replace(/\s/g, ' ')).toBe('\u200f129.00 €');
    await screenshot(page, '34-ar-bot-order-card');
    await page.context().close();
  });
});

describeBrowser('the demo AI in the visitor language, in real Chromium', () => {
  // As `npm start` runs the demo: typed questions get the AI's streamed answers, buttons the bot's.
  const env = useBrowserStack({ bot: 'ai', aiWordMs: 0 });

  /** Open the chat as `v`, tap the greeting's first button, then ask each question and wait for its finished answer. */
  async function ask(v: Visitor, questions: [question: string, answerStart: string][]): Promise<{ page: Page; log: Locator }> {
    const context = await env.browser.newContext({ locale: v.browserLocale, viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
    const page = await context.newPage();
    await page.goto(env.stack.shopUrl + v.path);
    const host = page.locator('parley-chat');
    await host.getByRole('button', { name: v.strings.open }).click();
    const panel = host.getByRole('dialog');
    const log = panel.getByRole('log');
    await log.getByText(v.greeting.text).waitFor();
    const bots = log.locator('.g:not(.v)');
    await log.getByRole('button', { name: v.greeting.quickReplies[0]!.label, exact: true }).click();
    await expect.poll(() => bots.count()).toBe(2);
    const composer = panel.getByRole('textbox', { name: v.strings.message });
    for (const [question, answerStart] of questions) {
      await composer.fill(question);
      await composer.press('Enter');
      await log.locator('.g:not(.v) .x', { hasText: answerStart }).waitFor();
      await panel.locator('.g.z').waitFor({ state: 'detached' });
    }
    return { page, log };
  }

  test('zh-CN: the AI answers an order and a returns question in Chinese, signed and sourced in Chinese', { timeout: 60_000 }, async () => {
    const { page, log } = await ask(ZH, [
      ['我的订单 1001 到哪了？', '订单 #1001（Trail Runner 2 越野跑鞋 × 1，€129.00）：已发货'],
      ['可以退货吗', '30 天内可免费退货'],
    ]);
    const answers = log.locator('.g:not(.v)').filter({ has: page.locator('.bd', { hasText: 'AI' }) });
    expect(await answers.count()).toBe(2);
    expect(await answers.first().locator('.t bdi').textContent()).toBe('Parley AI 助手 ');
    await answers.first().getByRole('link', { name: '订单 #1001 物流' }).waitFor();
    await answers.last().getByRole('link', { name: '退货与退款' }).waitFor();
    await expectNoEnglish(page, widgetEnglish(ZH.strings));
    await screenshot(page, '35-zh-CN-ai-answers');
    await page.context().close();
  });

  test('ar: the AI answers right to left in Arabic, its order total and day written the Arabic way', { timeout: 60_000 }, async () => {
    const { page, log } = await ask(AR, [['أين طلبي 1001؟', 'الطلب رقم 1001 (حذاء الجري Trail Runner 2 × 1،']]);
    const answer = log.locator('.g:not(.v)').last();
    expect(await answer.locator('.t bdi').textContent()).toBe('مساعد Parley الذكي ');
    const text = answer.locator('.x');
    expect(await text.textContent()).toMatch(/^الطلب رقم 1001 \(حذاء الجري Trail Runner 2 × 1، \u200f129\.00\s€\): تم الشحن — موعد الوصول المتوقع \d{1,2} \p{Script=Arabic}+\. /u);
    expect(await text.evaluate((el) => getComputedStyle(el).direction)).toBe('rtl');
    await answer.getByRole('link', { name: 'تتبّع الطلب رقم 1001' }).waitFor();
    expect(await answer.locator('.q button').first().textContent()).toBe('مدة الشحن');
    await expectNoEnglish(page, widgetEnglish(AR.strings));
    await screenshot(page, '36-ar-ai-answer');
    await page.context().close();
  });
});
