import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The web console, built into dist/console; server/web/console.ts serves it at `/`. Everything is bundled:
// no CDN, works offline.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2020',
    // Vite inlines small assets as data: URLs; the page's CSP allows them for images only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
