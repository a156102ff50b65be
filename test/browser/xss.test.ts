import { createRelayClient } from '@parley/backend';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

const API_SECRET = 'demo-only-api-secret-change-me';

const PAYLOADS = [
  '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
  '<script>window.__xss=(window.__xss||0)+1</script>',
  'click javascript:window.__xss=1 now',
  '<a href="javascript:window.__xss=1">tap</a>',
  '\u202Egnp.exe \u202Dsafe',
  'W'.repeat(3000),
  'see https://shop.example/a?b=<svg/onload=window.__xss=1> and http://x.test',
];

describeBrowser('hostile message content', () => {
  const env = useBrowserStack();

  test('nothing in messages or cards runs; text shows literally; the layout holds', async () => {
    const page = await env.browser.newPage({ viewport: { width: 1024, height: 768 } });
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();
    const panelBefore = await w.panel.boundingBox();
    await w.say(PAYLOADS[0]!);
    await w.log.getByText('<img src=x', { exact: false }).waitFor();

    const conversationId = await (async () => {
      for (let i = 0; i < 100; i++) {
        const hit = env.stack.webhooks.find((h) => h.type === 'message.created');
        if (hit) return String(hit.body.conversationId);
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('no webhook');
    })();
    const relay = createRelayClient({ url: env.stack.relayUrl, apiSecret: API_SECRET });
    let n = 0;
    for (const text of PAYLOADS) await relay.sendMessage(conversationId, { id: `xss-${n++}`, from: { role: 'agent', name: '<b>Eve</b>' }, body: { type: 'text', text } });
    await relay.sendMessage(conversationId, {
      id: `xss-${n++}`,
      from: { role: 'bot' },
      body: {
        type: 'card',
        kind: 'product',
        title: '<img src=x onerror="window.__xss=1">',
        subtitle: '<script>window.__xss=1</script>',
        price: '\u202E00.99€',
        url: 'https://shop.example/p"><script>window.__xss=1</script>',
        actions: [{ label: '<b>Buy</b>', value: '<script>' }],
      },
    });
    // A javascript: link is refused at the relay's edge and never reaches the page.
    await expect(
      relay.sendMessage(conversationId, { id: `xss-${n++}`, body: { type: 'card', kind: 'product', title: 'x', url: 'javascript:alert(1)' } }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    await w.log.getByText('<b>Buy</b>').waitFor();
    await page.waitForTimeout(300);

    const report = await page.evaluate(() => {
      const root = document.querySelector('parley-chat')!.shadowRoot!;
      const log = root.querySelector('[role="log"]')!;
      return {
        xss: (window as unknown as { __xss?: number }).__xss ?? 0,
        imgX: root.querySelectorAll('img[src="x"]').length,
        scripts: root.querySelectorAll('script').length + document.querySelectorAll('body script:not([src])').length,
        hrefs: Array.from(root.querySelectorAll('a')).map((a) => a.getAttribute('href') ?? ''),
        text: log.textContent ?? '',
        overflow: log.scrollWidth - log.clientWidth,
      };
    });
    expect(report.xss).toBe(0);
    expect(report.imgX).toBe(0);
    expect(report.scripts).toBe(0);
    expect(report.hrefs.every((h) => /^https?:\/\//.test(h))).toBe(true);
    expect(report.text).toContain('<script>window.__xss=(window.__xss||0)+1</script>');
    expect(report.text).toContain('<img src=x onerror=');
    expect(report.text).toContain('javascript:window.__xss=1');
    expect(report.text).toContain('\u202Egnp.exe');
    expect(report.overflow).toBeLessThanOrEqual(0);
    expect(await w.panel.boundingBox()).toEqual(panelBefore);
    await page.close();
  });
});
