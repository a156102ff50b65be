import { defineConfig } from 'vite';

// Two builds (package.json runs both):
// - default: dist/index.js, ESM for npm users. preact and @parley/* stay external: they are
//   dependencies, so an app that already has Preact (or the client) ships it once.
// - `--mode iife`: dist/parley.iife.js for the script tag, everything bundled and minified.
// tsc -b writes the .d.ts files into dist first, so dist is never emptied here.
export default defineConfig(({ mode }) => {
  const iife = mode === 'iife';
  return {
    // The classic JSX runtime: `h(type, props, ...children)` calls are shorter than the automatic
    // runtime's `jsx(type, { ...props, children })`, and Preact's `h` is then the only vnode factory
    // shipped (about 200 B brotli). Tests run the sources with the automatic runtime; both make
    // the same vnodes.
    oxc: {
      jsx: { runtime: 'classic', pragma: 'h', pragmaFrag: 'Fragment' },
      jsxInject: "import { h, Fragment } from 'preact'",
    },
    build: {
      emptyOutDir: false,
      target: 'es2020',
      // terser with three passes and top-level mangling writes the script-tag bundle about 250 B
      // brotli smaller than the default minifier. `pure_getters`: no getter in this code has side effects.
      minify: iife ? 'terser' : false,
      terserOptions: {
        ecma: 2020,
        toplevel: true,
        compress: { passes: 3, pure_getters: true, unsafe_arrows: true, unsafe_methods: true },
      },
      lib: iife
        ? { entry: 'src/iife.ts', formats: ['iife'], name: 'ParleyBundle', fileName: () => 'parley.iife.js' }
        : { entry: 'src/index.ts', formats: ['es'], fileName: () => 'index.js' },
      rolldownOptions: { external: iife ? [] : [/^preact(\/|$)/, /^@parley\//] },
    },
  };
});
