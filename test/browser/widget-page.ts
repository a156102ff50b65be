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
