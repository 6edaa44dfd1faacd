import { defineConfig } from 'vite';

/**
 * The dashboard's build (`npm run build`): one HTML page, its script and its stylesheet, written to
 * dist/dashboard and served by the API at `/`. Everything it needs is bundled: nothing comes from a CDN.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: '../dist/dashboard',
    emptyOutDir: true,
    // The strict CSP allows only files from this origin: no inlined assets beyond the empty favicon.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
