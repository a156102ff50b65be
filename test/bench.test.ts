// The short version of `npm run bench`: every path of the side-by-side suite runs (`--quick`,
// the widget left to the browser tests), and the page it writes carries every figure and goal.
// Speed is measured by the script, never asserted here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'parley-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench --quick', () => {
  test('runs every path and writes the page, the charts and the JSON', { timeout: 180_000 }, () => {
    const run = spawnSync(process.execPath, ['scripts/bench.mjs', '--quick', '--no-widget', '--out', out], { cwd: root, encoding: 'utf8', timeout: 170_000 });
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const page = readFileSync(join(out, 'benchmarks.md'), 'utf8');
    for (const figure of ['### Bot path', '### Send → ack', '### Idle memory', '### Catch-up', '### `GET /v1/conversations`', "### Where the relay's CPU goes"]) expect(page).toContain(figure);
    expect(page).toMatch(/\| \**(met|not met)\** \|/);
    const results = JSON.parse(readFileSync(join(out, 'bench', 'results.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(results).length).toBeGreaterThan(3);
  });
});
