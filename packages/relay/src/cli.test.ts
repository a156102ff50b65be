// Starts the built CLI the ways operators do. `npm test` builds before testing. The container
// image (packages/relay/Dockerfile) is tested as built in test/container.test.ts.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { cli, exited, killChildren, listening, requireBuiltCli, root, start } from './test-support/cli-process.js';

const example = join(root, 'examples/relay.config.json');

beforeAll(requireBuiltCli);
afterEach(killChildren);

/** The bytes the relay at `base` serves for both widget files, checked against the files it should hold. */
async function expectAssets(base: string, files: { loader: string; bundle: string }): Promise<void> {
  for (const [name, file] of [['loader.js', files.loader], ['parley.iife.js', files.bundle]] as const) {
    const res = await fetch(`${base}/parley/${name}`);
    expect(res.status, name).toBe(200);
    expect(res.headers.get('content-type'), name).toBe('text/javascript; charset=utf-8');
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(file)), name).toBe(true);
  }
}

describe('parley-relay CLI', () => {
  test('`npx parley-relay --config examples/relay.config.json` starts and GET /healthz answers 200', async () => {
    const child = start('npx', ['parley-relay', '--config', example], { PORT: '0', HOST: '127.0.0.1' });
    const base = await listening(child);
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // The example's `assets` (relative to examples/) serve the built loader and widget bundle.
    await expectAssets(base, { loader: join(root, 'packages/loader/dist/loader.js'), bundle: join(root, 'packages/widget/dist/parley.iife.js') });
    // SIGTERM to the whole group stops the relay itself, not only `npx`.
    process.kill(-child.pid!, 'SIGTERM');
    let stopped = false;
    for (let i = 0; i < 100 && !stopped; i++) {
      stopped = await fetch(`${base}/healthz`).then(
        () => false,
        () => true,
      );
      if (!stopped) await new Promise((r) => setTimeout(r, 50));
    }
    expect(stopped).toBe(true);
  });

  test('a bad config exits non-zero and names the bad key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-'));
    const file = join(dir, 'relay.json');
    writeFileSync(
      file,
      JSON.stringify({
        tokenSecret: 'x'.repeat(40),
        sites: [{ siteKey: 'pk', name: 'S', allowedOrigins: ['*'], webhookUrl: 'not a url', webhookSecret: 'whsec_' + 'A'.repeat(24), apiSecret: 'a'.repeat(20) }],
      }),
    );
    const { code, output } = await exited(start('node', [cli, '--config', file], {}));
    expect(code).not.toBe(0);
    expect(output).toContain('sites.0.webhookUrl');
  });

  test('`assets` without the widget files exits non-zero and names `assets`', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-'));
    writeFileSync(join(dir, 'loader.js'), '/* loader */');
    const { code, output } = await exited(start('node', [cli, '--config', example], { PARLEY_ASSETS: dir, PORT: '0', HOST: '127.0.0.1' }));
    expect(code).not.toBe(0);
    expect(output).toContain('Invalid relay config: assets: parley.iife.js not found in');
    expect(output).not.toContain('Server listening');
  });
});
