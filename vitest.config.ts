import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  // Tests run against the sources, so a change is tested without a rebuild.
  resolve: {
    alias: {
      '@parley/protocol': src('protocol'),
      '@parley/client': src('client'),
      '@parley/backend': src('backend'),
      '@parley/relay': src('relay'),
      '@parley/widget': src('widget'),
    },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  test: {
    include: ['packages/*/src/**/*.test.{ts,tsx}', 'test/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
