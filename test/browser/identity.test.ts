import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { describeBrowser } from './chromium.js';
import { eventually, screenshot, useBrowserStack } from './stack.js';
import { visitorBubbles, widgetOf } from './widget-page.js';

/** The merchant's page code listening to the widget's `error` event, as the script-tag API offers it. */
async function listenToErrors(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const errors: { code: string; message: string }[] = [];
    (window as unknown as { __errors: typeof errors }).__errors = errors;
    // The loader's stub queues the command until the bundle is there.
    const w = window as unknown as { Parley?: (...args: unknown[]) => void };
    const listen = () => w.Parley!('on', 'error', (e: { code: string; message: string }) => errors.push({ code: e.code, message: e.message }));
    if (w.Parley) listen();
    else addEventListener('DOMContentLoaded', listen);
  });
}

const errorsOf = (page: Page) => page.evaluate(() => (window as unknown as { __errors: { code: string }[] }).__errors.map((e) => e.code));

describeBrowser('identity in real Chromium', () => {
  const env = useBrowserStack();

  test('a bad signature still lets the visitor chat, and the merchant receives the error event', async () => {
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const shop = await context.newPage();
    await listenToErrors(shop);
    await shop.goto(`${env.stack.shopUrl}/`);
    await shop.evaluate(() => (window as unknown as { Parley: (...a: unknown[]) => void }).Parley('identify', { userId: 'u_1001', signature: 'deadbeef'.repeat(8) }));
    const w = widgetOf(shop);
    // The greeting shows, and the visitor chats anonymously.
    await w.open();
    await w.say('is anyone there?');
    const mine = visitorBubbles(shop, 'is anyone there?');
    await expect.poll(() => mine.textContent(), { timeout: 10_000 }).toMatch(/Sent|Read/);
    await w.log.locator('.g:not(.v)').filter({ hasText: 'Parley Bot' }).last().waitFor();
    await expect.poll(() => errorsOf(shop)).toContain('IDENTITY_INVALID');
    // The backend got the message from an anonymous visitor: nothing of the refused identity.
    await eventually(() => env.stack.webhooks.some((h) => JSON.stringify(h.body).includes('is anyone there?')), 'the message webhook');
    const hook = env.stack.webhooks.find((h) => JSON.stringify(h.body).includes('is anyone there?'))!;
    expect((hook.body.visitor as { identity?: unknown }).identity).toBeUndefined();
    await screenshot(shop, 'identity-bad-signature');
    await context.close();
  });

  test('signing in mid-chat keeps the chat on screen and in the console', async () => {
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const shop = await context.newPage();
    await shop.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(shop);
    await w.open();
    await w.say('question before signing in');
    await expect.poll(() => visitorBubbles(shop, 'question before signing in').textContent(), { timeout: 10_000 }).toMatch(/Sent|Read/);
    await eventually(() => env.stack.webhooks.some((h) => JSON.stringify(h.body).includes('question before signing in')), 'the first message webhook');
    const conversationId = String(env.stack.webhooks.find((h) => JSON.stringify(h.body).includes('question before signing in'))!.body.conversationId);

    await shop.getByRole('link', { name: 'Sign in (demo)' }).click();
    await shop.getByRole('link', { name: 'Signed in as Ana Demo' }).waitFor();
    await eventually(() => env.stack.webhooks.some((h) => h.type === 'visitor.identified'), 'visitor.identified');
    expect(env.stack.webhooks.find((h) => h.type === 'visitor.identified')!.body).toMatchObject({
      conversationId,
      visitor: { identity: { userId: 'u_1001', name: 'Ana Demo', verified: true } },
    });
    // The earlier messages stay in the panel, and the chat goes on in the same conversation.
    await visitorBubbles(shop, 'question before signing in').waitFor();
    await w.say('and after signing in');
    await expect.poll(() => visitorBubbles(shop, 'and after signing in').textContent(), { timeout: 10_000 }).toMatch(/Sent|Read/);
    expect(await visitorBubbles(shop, 'question before signing in').count()).toBe(1);
    await eventually(() => env.stack.webhooks.some((h) => JSON.stringify(h.body).includes('and after signing in')), 'the second message webhook');
    const after = env.stack.webhooks.find((h) => JSON.stringify(h.body).includes('and after signing in'))!;
    expect(after.body).toMatchObject({ conversationId, visitor: { identity: { userId: 'u_1001', verified: true } } });

    // In the console: one conversation, the verified customer's, holding both messages.
    const agent = await (await env.browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await agent.goto(env.stack.consoleUrl);
    const row = agent.locator(`#conversations [data-conversation-id="${conversationId}"]`);
    await expect.poll(() => row.textContent()).toContain('Ana Demo');
    await row.click();
    await agent.locator('#transcript').getByText('question before signing in').waitFor();
    await agent.locator('#transcript').getByText('and after signing in').waitFor();
    await expect.poll(() => agent.locator('#context').textContent()).toMatch(/Ana Demo.*u_1001 verified/);
    await screenshot(agent, 'identity-signed-in-mid-chat');

    // Signing out forgets everything: the next page starts a new, anonymous chat.
    await shop.getByRole('link', { name: 'Signed in as Ana Demo' }).click();
    await shop.getByRole('link', { name: 'Sign in (demo)' }).waitFor();
    const fresh = widgetOf(shop);
    await fresh.open();
    expect(await visitorBubbles(shop, 'question before signing in').count()).toBe(0);
    // Nothing of the signed-in chat is kept: not its identity, not its conversation.
    const kept = await shop.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('parley')).map((k) => [k, localStorage.getItem(k)]));
    expect(kept.map(([k]) => k)).not.toContain('parley:pk_demo:id');
    expect(JSON.stringify(kept)).not.toContain(conversationId);
    expect(JSON.stringify(kept)).not.toContain('u_1001');
    await agent.context().close();
    await context.close();
  });

  test('signing in mid-chat when the shopper already has an open conversation: the chat on screen wins, the other stays open and linked', async () => {
    // The shopper chatted signed in on another device earlier.
    const phone = await env.browser.newContext();
    const phonePage = await phone.newPage();
    await phonePage.goto(`${env.stack.shopUrl}/`);
    await phonePage.getByRole('link', { name: 'Sign in (demo)' }).click();
    await phonePage.getByRole('link', { name: 'Signed in as Ana Demo' }).waitFor();
    await widgetOf(phonePage).open();
    await widgetOf(phonePage).say('from my phone earlier');
    await eventually(() => env.stack.webhooks.some((h) => JSON.stringify(h.body).includes('from my phone earlier')), 'the phone message');
    const older = String(env.stack.webhooks.find((h) => JSON.stringify(h.body).includes('from my phone earlier'))!.body.conversationId);
    await phone.close();

    const laptop = await env.browser.newContext();
    const shop = await laptop.newPage();
    await shop.goto(`${env.stack.shopUrl}/`);
    const w = widgetOf(shop);
    await w.open();
    await w.say('anonymous on the laptop');
    await eventually(() => env.stack.webhooks.some((h) => JSON.stringify(h.body).includes('anonymous on the laptop')), 'the laptop message');
    const onScreen = String(env.stack.webhooks.find((h) => JSON.stringify(h.body).includes('anonymous on the laptop'))!.body.conversationId);
    await shop.getByRole('link', { name: 'Sign in (demo)' }).click();
    await eventually(
      () => env.stack.webhooks.some((h) => h.type === 'visitor.identified' && h.body.conversationId === onScreen),
      'visitor.identified for the laptop chat',
    );
    expect(env.stack.webhooks.find((h) => h.type === 'visitor.identified' && h.body.conversationId === onScreen)!.body.data).toEqual({ linkedConversationId: older });
    await visitorBubbles(shop, 'anonymous on the laptop').waitFor();
    expect(await visitorBubbles(shop, 'from my phone earlier').count()).toBe(0);

    // The console shows both, the on-screen one linking to the other.
    const agent = await (await env.browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await agent.goto(env.stack.consoleUrl);
    await agent.locator(`#conversations [data-conversation-id="${older}"]`).waitFor();
    await agent.locator(`#conversations [data-conversation-id="${onScreen}"]`).click();
    await agent.locator('#context').getByRole('button', { name: 'Open the other conversation' }).click();
    await agent.locator('#transcript').getByText('from my phone earlier').waitFor();
    await agent.context().close();
    await laptop.close();
  });
});
