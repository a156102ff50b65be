// The part of Vite's `import.meta.env` this package reads; matches vite/client's shape.
interface ImportMetaEnv {
  readonly DEV: boolean;
}
interface ImportMeta {
  readonly env: ImportMetaEnv;
}
