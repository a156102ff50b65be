#!/usr/bin/env node
// What the widget costs a shop page, measured in Chromium on the demo shop: bytes and requests
// before `load`, sockets opened before any click, long tasks before interaction (all of them,
// and those from `load` on, when the widget's work starts), layout shift, and the time from a
// click on the launcher to the greeting on screen. Each run is a new
// visitor (a fresh browser context). Needs the built files (`npm run build`).
//
//   node scripts/bench-widget.mjs [--runs 5]      prints the JSON
//   import { benchWidget } from './bench-widget.mjs'; await benchWidget({ chromiumPath })
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { percentile } from './lib/util.mjs';

const DEMO = fileURLToPath(new URL('../examples/shop/dist/index.js', import.meta.url));
const GREETING = 'How can we help';

/** Chromium flags the browser tests use too (test/browser/chromium.ts). */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

/** Installed before the page's first script: long tasks, layout shifts and the click-to-greeting time. */
function observe(greeting) {
  const perf = { longTasks: [], cls: 0, shifts: [], firstInput: Infinity, greetingMs: undefined };
  window.__parleyBench = perf;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) perf.longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.hadRecentInput) continue;
      perf.cls += e.value;
      // What moved, for the report: a shift names its nodes (inside the widget: its shadow host's part).
      const what = (e.sources ?? []).map((s) => (s.node ? (s.node.nodeName + (s.node.className ? '.' + String(s.node.className).split(' ')[0] : '')).toLowerCase() : '?'));
      perf.shifts.push({ at: Math.round(e.startTime), value: e.value, what });
    }
  }).observe({ type: 'layout-shift', buffered: true });
  addEventListener(
    'pointerdown',
    (e) => {
      perf.firstInput = Math.min(perf.firstInput, e.timeStamp);
      const t0 = e.timeStamp;
      // The frame in which the greeting is first on screen.
      const tick = () => {
        const g = document.querySelector('parley-chat')?.shadowRoot?.querySelector('.m .g');
        if (g && g.textContent.includes(greeting)) perf.greetingMs = performance.now() - t0;
        else requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    },
    { capture: true, once: true },
  );
}

/** One new visitor on `shopUrl`. */
async function visit(browser, shopUrl) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.addInitScript(observe, GREETING);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Page.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const requests = new Map(); // requestId → { url, start, bytes }
  const sockets = [];
  let loadAt = Infinity;
  cdp.on('Network.requestWillBeSent', (e) => requests.set(e.requestId, { url: e.request.url, start: e.timestamp, bytes: 0 }));
  cdp.on('Network.loadingFinished', (e) => {
    const r = requests.get(e.requestId);
    if (r) r.bytes = e.encodedDataLength;
  });
  cdp.on('Network.webSocketCreated', (e) => sockets.push(e.url));
  cdp.on('Page.loadEventFired', (e) => (loadAt = Math.min(loadAt, e.timestamp)));

  await page.goto(`${shopUrl}/`, { waitUntil: 'load' });
  const launcher = page.locator('parley-chat').getByRole('button', { name: /open chat/i });
  await launcher.waitFor();
  // Let the idle work finish (the bundle, the site config) before the visitor acts.
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(300);
  const socketsBeforeClick = sockets.length;
  const all = [...requests.values()];
  const beforeLoad = all.filter((r) => r.start <= loadAt);
  const sum = (rs) => rs.reduce((n, r) => n + r.bytes, 0);

  await launcher.click();
  await page.waitForFunction(() => window.__parleyBench.greetingMs !== undefined, null, { timeout: 10_000 });
  const perf = await page.evaluate(() => window.__parleyBench);
  const load = await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventStart);
  const before = perf.longTasks.filter((t) => t.start < perf.firstInput);
  // Before `load` the widget runs only the loader's stub: long tasks there are the page's own.
  const widget = before.filter((t) => t.start + t.duration > load);
  await context.close();
  return {
    beforeLoad: { requests: beforeLoad.length, bytes: sum(beforeLoad), urls: beforeLoad.map((r) => new URL(r.url).pathname) },
    beforeClick: { requests: all.length, bytes: sum(all), urls: all.map((r) => new URL(r.url).pathname) },
    socketsBeforeClick,
    longTasksBeforeInteraction: before.length,
    longTaskMsBeforeInteraction: Math.round(before.reduce((n, t) => n + t.duration, 0)),
    longTasksAfterLoadBeforeInteraction: widget.length,
    cls: perf.cls,
    shifts: perf.shifts.map((x) => ({ ...x, afterInput: x.at >= perf.firstInput })),
    clickToGreetingMs: Math.round(perf.greetingMs * 10) / 10,
  };
}

/**
 * Measure the widget on the demo shop at `shopUrl`, or on a demo stack started here (relay,
 * demo backend and shop on free ports, memory engine) and stopped after. Returns the median
 * click-to-greeting time over `runs` new visitors, and the worst of every other figure.
 */
export async function benchWidget({ chromiumPath = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium', shopUrl, runs = 5 } = {}) {
  const { chromium } = await import('playwright-core');
  let demo;
  if (!shopUrl) {
    if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: run \`npm run build\` first.`);
    const { startDemo } = await import(pathToFileURL(DEMO).href);
    demo = await startDemo({ relayPort: 0, backendPort: 0, shopPort: 0, logLevel: 'silent' });
    shopUrl = demo.shopUrl;
  }
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ARGS });
  try {
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await visit(browser, shopUrl));
    const max = (f) => Math.max(...results.map(f));
    const greet = results.map((r) => r.clickToGreetingMs);
    return {
      runs,
      beforeLoad: { requests: max((r) => r.beforeLoad.requests), bytes: max((r) => r.beforeLoad.bytes), urls: results[0].beforeLoad.urls },
      beforeClick: { requests: max((r) => r.beforeClick.requests), bytes: max((r) => r.beforeClick.bytes), urls: results[0].beforeClick.urls },
      socketsBeforeClick: max((r) => r.socketsBeforeClick),
      longTasksBeforeInteraction: max((r) => r.longTasksBeforeInteraction),
      longTaskMsBeforeInteraction: max((r) => r.longTaskMsBeforeInteraction),
      longTasksAfterLoadBeforeInteraction: max((r) => r.longTasksAfterLoadBeforeInteraction),
      cls: max((r) => r.cls),
      shifts: results.flatMap((r) => r.shifts),
      clickToGreetingMs: { median: percentile(greet, 50), max: Math.max(...greet), runs: greet },
    };
  } finally {
    await browser.close();
    await demo?.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const at = process.argv.indexOf('--runs');
  const runs = at > 0 ? Number(process.argv[at + 1]) : 5;
  const result = await benchWidget({ runs });
  console.log(JSON.stringify(result, null, 2));
}
