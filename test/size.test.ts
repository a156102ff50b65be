// Size ceilings of the browser bundles, measured on the built files (`npm run build`).
// Over a ceiling? Make it smaller — or raise the ceiling in this file in the same
// commit, with the reason.
import { existsSync, readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { expect, test } from 'vitest';

const CEILINGS = [
  // The snippet every page pays for before the visitor does anything.
  { file: 'packages/loader/dist/loader.js', brotli: 1024 },
  // The whole widget for the script tag: Preact, the client and the UI. The client's connection
  // code (with the protocol's zod-free frame guard) is parley-connection.js, below.
  { file: 'packages/widget/dist/parley.iife.js', brotli: 16384 },
  // The attachment code (pick, paste, drop, checks, upload with progress), loaded from beside the
  // bundle when the attach button first shows: never for a visitor who does not open the chat.
  { file: 'packages/widget/dist/parley-upload.js', brotli: 1280 },
  // The proactive trigger code (conditions, frequency caps; no Preact), loaded from beside the
  // bundle only when the site config has triggers. The bubble it fills is in the bundle.
  { file: 'packages/widget/dist/parley-triggers.js', brotli: 1024 },
  // The UI of the rarer states (the rating and leave-a-message forms, past conversations, the 👎
  // comment, cards, ratings and files in the log) and the alerts of an unseen message (the beep,
  // the flashing title), loaded from beside the bundle when one shows or becomes likely; it
  // renders with the bundle's Preact.
  { file: 'packages/widget/dist/parley-extras.js', brotli: 1920 },
  // The client's connection code (the frame guard every relay frame goes through, the close codes'
  // meanings, multi-tab coordination; no Preact), loaded from beside the bundle when the client
  // first connects: on the visitor's first intent to chat, at once for a returning visitor.
  { file: 'packages/widget/dist/parley-connection.js', brotli: 2432 },
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
