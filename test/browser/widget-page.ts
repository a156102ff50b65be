import type { Locator, Page } from 'playwright-core';

/** Locators into the widget's (open) shadow root; Playwright's selectors pierce it. */
export function widgetOf(page: Page) {
  const host = page.locator('parley-chat');
  const panel = host.getByRole('dialog');
  return {
    host,
    launcher: host.getByRole('button', { name: /open chat|close chat/i }),
    panel,
    log: panel.getByRole('log'),
    composer: panel.getByRole('textbox', { name: 'Message' }),
    /** Open the panel and wait for the greeting. */
    async open(): Promise<Locator> {
      await host.getByRole('button', { name: /open chat/i }).click();
      await panel.getByText('How can we help you today?').waitFor();
      return panel;
    },
    /** Type a message and press Enter. */
    async say(text: string): Promise<void> {
      await panel.getByRole('textbox', { name: 'Message' }).fill(text);
      await panel.getByRole('textbox', { name: 'Message' }).press('Enter');
    },
  };
}

/** Count the visitor bubbles whose text contains `text`. */
export function visitorBubbles(page: Page, text: string): Locator {
  return page.locator('parley-chat').getByRole('log').locator('.g.v').filter({ hasText: text });
}

/** What the page showed of one bot answer, recorded in the page itself (see `watchAnswer`). */
export interface AnswerWatch {
  /** `performance.now()` when the visitor pressed Enter in the composer. */
  sentAt: number;
  /** `performance.now()` when text of the answer first showed. */
  firstAt: number;
  /** Every distinct text the answer showed while it was being written, in order. */
  drafts: string[];
}

/**
 * Record, inside the page, how a bot answer starting with `start` shows up: when its first
 * words appear after Enter is pressed, and each text it shows while still being written.
 * Playwright's polling is too coarse for either. Call again after a reload.
 */
export async function watchAnswer(page: Page, start: string): Promise<void> {
  await page.evaluate((start) => {
    const root = document.querySelector('parley-chat')!.shadowRoot!;
    const watch: AnswerWatch = { sentAt: 0, firstAt: 0, drafts: [] };
    (window as unknown as { __answer: AnswerWatch }).__answer = watch;
    root.addEventListener(
      'keydown',
      (e) => {
        if ((e as KeyboardEvent).key === 'Enter' && !watch.sentAt) watch.sentAt = performance.now();
      },
      true,
    );
    const look = () => {
      for (const x of root.querySelectorAll('.g:not(.v) .x')) {
        const text = x.textContent ?? '';
        const n = Math.min(text.length, start.length);
        if (!n || text.slice(0, n) !== start.slice(0, n)) continue;
        if (!watch.firstAt) watch.firstAt = performance.now();
        if (x.closest('.z') && watch.drafts.at(-1) !== text) watch.drafts.push(text);
      }
    };
    new MutationObserver(look).observe(root, { subtree: true, childList: true, characterData: true });
    look();
  }, start);
}

/** What `watchAnswer` recorded. */
export function answerWatch(page: Page): Promise<AnswerWatch> {
  return page.evaluate(() => (window as unknown as { __answer: AnswerWatch }).__answer);
}
