// Size ceilings of the browser bundles, measured on the built files (`npm run build`).
// Over a ceiling? Make it smaller — or raise the ceiling in this file in the same
// commit, with the reason.
import { existsSync, readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { expect, test } from 'vitest';

const CEILINGS = [
  // The snippet every page pays for before the visitor does anything.
  { file: 'packages/loader/dist/loader.js', brotli: 1024 },
  // The whole widget for the script tag: Preact, the client (with the protocol's zod-free
  // frame guard) and the UI.
  { file: 'packages/widget/dist/parley.iife.js', brotli: 16384 },
];

const sizes = (code: Buffer) => ({
  raw: code.byteLength,
  gzip: gzipSync(code, { level: 9 }).byteLength,
  brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).byteLength,
});

test.each(CEILINGS)('$file is at most $brotli bytes brotli', ({ file, brotli }) => {
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first.`);
  const size = sizes(readFileSync(file));
  console.log(`${file}: ${size.raw} B raw, ${size.gzip} B gzip, ${size.brotli} B brotli (ceiling ${brotli})`);
  expect(
    size.brotli,
    `${file} is ${size.brotli} B brotli, over its ${brotli} B ceiling: make it smaller, or raise the ceiling in this file in the same commit, with the reason`,
  ).toBeLessThanOrEqual(brotli);
});
