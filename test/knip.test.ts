// Unused files, exports, types and dependencies fail `npm test` (knip, configured in knip.jsonc).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));

describe('no unused code', () => {
  test('knip finds no unused file, export, type or dependency, and no unlisted one', { timeout: 120_000 }, () => {
    const run = spawnSync(process.execPath, ['node_modules/knip/bin/knip.js', '--no-progress', '--no-config-hints'], { cwd: root, encoding: 'utf8', timeout: 110_000 });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
