import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startDemo, type Demo, type DemoOptions } from '@parley/demo-shop';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './chromium.js';

/** A webhook as the merchant backend received it, recorded on the way. */
export interface RecordedWebhook {
  id: string;
  type: string;
  body: Record<string, unknown>;
}

export interface Stack extends Demo {
  /** Every webhook delivered to the demo backend, in arrival order. */
  webhooks: RecordedWebhook[];
}

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const ARTIFACTS = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));

/**
 * The whole demo on free ports — relay, demo backend (behind a recorder that counts
 * webhooks) and shop — with the test fixtures served by the shop.
 */
export async function startStack(options: DemoOptions = {}): Promise<Stack> {
  const webhooks: RecordedWebhook[] = [];
  let recorder: Server | undefined;
  const demo = await startDemo({
    relayPort: 0,
    backendPort: 0,
    shopPort: 0,
    logLevel: 'silent',
    staticDirs: [FIXTURES],
    ...options,
    webhookUrl: async (backend) => {
      recorder = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const raw = Buffer.concat(chunks).toString('utf8');
        const body = JSON.parse(raw) as Record<string, unknown>;
        webhooks.push({ id: String(req.headers['webhook-id']), type: String(body.type), body });
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) {
          const value = req.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        const answer = await fetch(backend.webhookUrl, { method: 'POST', headers, body: raw });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(await answer.text());
      });
      await new Promise<void>((resolve) => recorder!.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(recorder!.address() as AddressInfo).port}/webhooks/parley`;
    },
  });
  return {
    ...demo,
    webhooks,
    async close() {
      await demo.close();
      recorder?.closeAllConnections();
      await new Promise<void>((resolve) => (recorder ? recorder.close(() => resolve()) : resolve()));
    },
  };
}

/** Save a screenshot in the git-ignored artifacts folder. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}${name}.png` });
}

/** Resolve when `predicate` holds, polling; fails the test with `what` after `timeoutMs`. */
export async function eventually(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Start Chromium and a fresh stack before the tests of the enclosing `describe`, and
 * stop both after them. Read them through the returned object inside tests.
 */
export function useBrowserStack(options: DemoOptions = {}): { browser: Browser; stack: Stack } {
  const env = {} as { browser: Browser; stack: Stack };
  beforeAll(async () => {
    [env.browser, env.stack] = await Promise.all([launchChromium(), startStack(options)]);
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.stack?.close();
  });
  return env;
}
