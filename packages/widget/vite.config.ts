import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Three builds (package.json runs them all):
// - default: dist/index.js, ESM for npm users. preact and @parley/* stay external: they are
//   dependencies, so an app that already has Preact (or the client) ships it once.
// - `--mode iife`: dist/parley.iife.js for the script tag, everything bundled and minified.
// - `--mode upload`: dist/parley-upload.js, the attachment code the script-tag bundle loads from
//   beside itself on the first attachment (the npm build loads it as a chunk of its own instead).
// - `--mode triggers`: dist/parley-triggers.js, the proactive trigger code, loaded the same way
//   when the site config has triggers.
// - `--mode extras`: dist/parley-extras.js, the UI of rarer states (rating, leave a message, past
//   conversations, the 👎 comment, cards, ratings and files in the log), loaded the same way when
//   one shows or is likely (lazy.ts). It renders with the bundle's own Preact (see `extrasCore`);
//   the npm build loads it as a chunk instead.
// - `--mode connection`: dist/parley-connection.js, the client's connection code (its link.ts: the
//   frame guard, the close codes' meanings, multi-tab coordination), loaded the same way when the
//   client first connects (link-script.ts); npm builds of the client have it at hand.
// tsc -b writes the .d.ts files into dist first, so dist is never emptied here.
/** The stylesheet's line breaks are for reading: the builds go without them. */
const cssLines = {
  name: 'parley-css-lines',
  transform: (code: string, id: string) => (/\/src\/(extras-)?styles\.ts$/.test(id) ? code.replace(/\n(?=[^`]*`;?\s*$)/g, '') : undefined),
};

/**
 * In the script-tag bundle, the upload code comes from a <script> (upload-script.ts), not a chunk;
 * so do the triggers, the extras and the client's connection code (link-script.ts).
 */
const uploadScript = {
  name: 'parley-upload-script',
  enforce: 'pre' as const,
  resolveId: (id: string, importer?: string) =>
    id === './link-import.js' && /[\\/]client[\\/]/.test(importer ?? '')
      ? fileURLToPath(new URL('./src/link-script.ts', import.meta.url))
      : id === './upload-import.js'
      ? fileURLToPath(new URL('./src/upload-script.ts', import.meta.url))
      : id === './triggers-import.js'
        ? fileURLToPath(new URL('./src/triggers-script.ts', import.meta.url))
        : id === './extras-import.js'
          ? fileURLToPath(new URL('./src/extras-script.ts', import.meta.url))
          : undefined,
};

/**
 * In the extras' script-tag build, `preact` and `./timeline.js` are what the bundle, already on the
 * page, exposes on its `ParleyBundle` global (iife.ts): one Preact renders both.
 */
const extrasCore = {
  name: 'parley-extras-core',
  enforce: 'pre' as const,
  resolveId: (id: string) => (id === 'preact' || id === './timeline.js' ? '\0parley-core' : undefined),
  load: (id: string) => (id === '\0parley-core' ? 'export const { h, Fragment, Timeline } = ParleyBundle;' : undefined),
};

export default defineConfig(({ mode }) => {
  const iife = mode === 'iife';
  const upload = mode === 'upload';
  const triggers = mode === 'triggers';
  const extras = mode === 'extras';
  const connection = mode === 'connection';
  return {
    plugins: iife ? [cssLines, uploadScript] : extras ? [cssLines, extrasCore] : [cssLines],
    // The classic JSX runtime: `h(type, props, ...children)` calls are shorter than the automatic
    // runtime's `jsx(type, { ...props, children })`, and Preact's `h` is then the only vnode factory
    // shipped (about 200 B brotli). Tests run the sources with the automatic runtime; both make
    // the same vnodes.
    oxc: {
      jsx: { runtime: 'classic', pragma: 'h', pragmaFrag: 'Fragment' },
      // Not into the upload code: it renders nothing, and would carry a second Preact.
      jsxInject: upload || triggers || connection ? undefined : "import { h, Fragment } from 'preact'",
    },
    build: {
      emptyOutDir: false,
      target: 'es2020',
      // terser with three passes and top-level mangling writes the script-tag bundle about 250 B
      // brotli smaller than the default minifier. `pure_getters`: no getter in this code has side effects.
      minify: iife || upload || triggers || extras || connection ? 'terser' : false,
      terserOptions: {
        ecma: 2020,
        toplevel: true,
        compress: { passes: 3, pure_getters: true, unsafe_arrows: true, unsafe_methods: true },
      },
      lib: upload
        ? { entry: 'src/upload.ts', formats: ['iife'], name: 'ParleyUpload', fileName: () => 'parley-upload.js' }
        : triggers
          ? { entry: 'src/triggers.ts', formats: ['iife'], name: 'ParleyTriggers', fileName: () => 'parley-triggers.js' }
          : extras
            ? { entry: 'src/extras.ts', formats: ['iife'], name: 'ParleyExtras', fileName: () => 'parley-extras.js' }
          : connection
            ? { entry: fileURLToPath(new URL('../client/dist/link.js', import.meta.url)), formats: ['iife'], name: 'ParleyConnection', fileName: () => 'parley-connection.js' }
          : iife
          ? { entry: 'src/iife.ts', formats: ['iife'], name: 'ParleyBundle', fileName: () => 'parley.iife.js' }
          : { entry: 'src/index.ts', formats: ['es'], fileName: () => 'index.js' },
      rolldownOptions: {
        // No `Symbol.toStringTag` on the globals the script-tag files set: nothing reads it.
        output: { generatedCode: { symbols: false } },
        external: iife || upload || triggers || extras || connection ? [] : [/^preact(\/|$)/, /^@parley\//],
      },
    },
  };
});
