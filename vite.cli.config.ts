import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The `webdetr` CLI, prebuilt for an installed package (no sources, no vite there):
 *   `npm run build:cli` → dist/cli        the chromium page (`--backend webgpu`), served by cli/server.mjs
 *                       → dist/cli-node   the Node engine (WASM, the default), loaded by cli/node-runner.mjs
 * The second build is the SSR one (`--ssr cli/node/run-node.ts`): one ES module for Node with our sources bundled and the
 * dependencies (onnxruntime-web, @jsquash/jpeg, ...) left as imports, so onnxruntime-web resolves its
 * .wasm files from node_modules next to itself, as in a checkout.
 */
export default defineConfig(({ isSsrBuild }) =>
  isSsrBuild
    ? {
        // A plain Node module: no public/ copy, no HTML.
        publicDir: false,
        build: {
          ssr: fileURLToPath(new URL('./cli/node/run-node.ts', import.meta.url)),
          outDir: fileURLToPath(new URL('./dist/cli-node', import.meta.url)),
          emptyOutDir: true,
          target: 'node20',
          sourcemap: false,
          rollupOptions: { output: { entryFileNames: 'run-node.mjs', format: 'es' } },
        },
      }
    : {
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
      },
);
