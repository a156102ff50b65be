import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { crc32, deflateSync } from 'node:zlib';
import type { Locator, Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { screenshot, useBrowserStack } from './stack.js';
import { widgetOf } from './widget-page.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** A real PNG of `w`×`h` pixels of one colour, so the browser decodes and draws it. */
function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(w, 0);
  header.writeUInt32BE(h, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => rgb).flat())]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: h }, () => row)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))]);
}

/** Every Content-Security-Policy violation the page reports, recorded in the page. */
async function recordCspViolations(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const seen: string[] = ((window as unknown as { __csp: string[] }).__csp = []);
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`), true);
  });
  return () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
}

/** The image has arrived and been drawn (a blocked or broken image has no natural width). */
const drawn = (img: Locator) => img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth);

/** axe-core on `root` (the widget's host, whose open shadow root axe walks into, or the whole page). */
async function axeViolations(page: Page, selector: string | null): Promise<string[]> {
  await page.evaluate(AXE);
  return page.evaluate(async (sel) => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }).axe;
    const result = await axe.run(sel ? document.querySelector(sel) : document, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  }, selector);
}

describeBrowser('attachments under the demo shop’s strict CSP', () => {
  const env = useBrowserStack();

  test('a visitor attaches a photo and the agent a label: each previews on both sides, with no CSP violation and no axe violation', { timeout: 60_000 }, async () => {
    const shopContext = await env.browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    const shop = await shopContext.newPage();
    const violations = await recordCspViolations(shop);
    const response = await shop.goto(`${env.stack.shopUrl}/`);
    // The page runs under the strict policy, which names the demo backend's origin for uploads.
    const csp = response!.headers()['content-security-policy']!;
    expect(csp).toContain(`connect-src 'self' ${env.stack.relayUrl}`);
    expect(csp).toMatch(new RegExp(`img-src [^;]*${env.stack.backendUrl}`));
    expect(csp).toMatch(new RegExp(`connect-src [^;]*${env.stack.backendUrl}`));
    expect(csp).toContain("script-src 'self';");

    const w = widgetOf(shop);
    await w.launcher.waitFor();
    await w.open();
    await w.say('Here is the damage');
    await w.log.getByText('Here is the damage').waitFor();

    // The visitor picks a photo with the attach button.
    const attach = w.panel.getByLabel('Attach a file');
    await attach.setInputFiles({ name: 'scuffed-shoe.png', mimeType: 'image/png', buffer: png(64, 48, [200, 40, 40]) });
    const mine = w.log.locator('img[alt="scuffed-shoe.png"]');
    await mine.waitFor();
    await expect.poll(() => drawn(mine)).toBe(64);
    // The upload code came from beside the bundle; the bytes went to the backend's store, never the relay.
    const isFile = (h: (typeof env.stack.webhooks)[number]) => h.type === 'message.created' && JSON.stringify(h.body).includes('scuffed-shoe.png');
    await expect.poll(() => env.stack.webhooks.some(isFile)).toBe(true);
    const body = (env.stack.webhooks.find(isFile)!.body as { data: { message: { body: { type: string; url: string } } } }).data.message.body;
    expect(body.type).toBe('file');
    expect(new URL(body.url).origin).toBe(env.stack.backendUrl);
    expect(env.stack.webhooks.map((h) => h.type)).toContain('upload.requested');

    // The agent sees the photo in the console, and attaches one back.
    const agentContext = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const agent = await agentContext.newPage();
    await agent.goto(env.stack.consoleUrl);
    await agent.locator('#conversations [data-conversation-id]').first().click();
    const seen = agent.locator('#transcript img[alt="scuffed-shoe.png"]');
    await seen.waitFor();
    await expect.poll(() => drawn(seen)).toBe(64);
    await agent.locator('#attach').setInputFiles({ name: 'return-label.png', mimeType: 'image/png', buffer: png(40, 30, [30, 90, 200]) });
    const sent = agent.locator('#transcript img[alt="return-label.png"]');
    await sent.waitFor();
    await expect.poll(() => drawn(sent)).toBe(40);

    // The visitor gets the agent's image, drawn under the shop's CSP.
    const theirs = w.log.locator('img[alt="return-label.png"]');
    await theirs.waitFor();
    await expect.poll(() => drawn(theirs)).toBe(40);
    await screenshot(shop, '08-attachments');
    await screenshot(agent, '09-console-attachments');

    expect(await violations()).toEqual([]);
    await shop.waitForTimeout(300); // let the panel's transitions settle: axe measures colours
    expect(await axeViolations(shop, 'parley-chat')).toEqual([]);
    expect(await axeViolations(agent, null)).toEqual([]);
    await agentContext.close();
    await shopContext.close();
  });

  test('a file the site does not take is refused in plain words, before anything is uploaded', async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(page);
    await w.open();
    const before = env.stack.webhooks.filter((h) => h.type === 'upload.requested').length;
    await w.panel.getByLabel('Attach a file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await w.panel.getByText("This type of file can't be sent.").waitFor();
    await w.panel.getByLabel('Attach a file').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(10 * 1024 * 1024 + 1) });
    await w.panel.getByText(/This file is too large \(max .?10 MB.?\)\./).waitFor();
    expect(env.stack.webhooks.filter((h) => h.type === 'upload.requested')).toHaveLength(before);
    await context.close();
  });
});
