import { defineConfig } from 'vite';

// dist/loader.js: one self-running script, minified. tsc -b writes declarations to
// dist/types first, so dist is never emptied here.
export default defineConfig({
  build: {
    emptyOutDir: false,
    target: 'es2017',
    minify: true,
    lib: { entry: 'src/main.ts', formats: ['iife'], name: 'ParleyLoader', fileName: () => 'loader.js' },
  },
});
