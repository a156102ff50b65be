import { defineConfig } from 'vite';

// localhost, not 127.0.0.1: the demo relay config allows the origin http://localhost:5174.
export default defineConfig({
  server: { host: 'localhost' },
  preview: { host: 'localhost' },
});
