import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The `webdetr` CLI's page as static files (`npm run build:cli` → dist/cli), for an installed
 * package, where there are no sources and no vite: cli/server.mjs serves this folder.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./cli/page', import.meta.url)),
  base: './',
  // Same as the dev server: onnxruntime-web finds its .wasm/.mjs next to itself.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  build: {
    outDir: fileURLToPath(new URL('./dist/cli', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
});
