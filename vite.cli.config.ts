import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { ORT_WASM_FILE, ortWasmExternal } from './scripts/ort-wasm-external.mjs';

/**
 * The `webdetr` CLI, prebuilt for an installed package (no sources, no vite there):
 *   `npm run build:cli` → dist/cli        the chromium page (`--backend webgpu`), served by cli/server.mjs
 *                       → dist/cli-node   the Node engine (WASM, the default), loaded by cli/node-runner.mjs
 * The second build is the SSR one (`--ssr cli/node/run-node.ts`): one ES module for Node with our sources bundled and the
 * dependencies (onnxruntime-web, @jsquash/jpeg, ...) left as imports, so onnxruntime-web resolves its
 * .wasm files from node_modules next to itself, as in a checkout.
 * `--mode package` (the npm package, `npm run build:package`): the page build has no copy of
 * onnxruntime's .wasm; its worker asks for /onnxruntime-web/<file>, which cli/server.mjs serves from
 * the installed onnxruntime-web.
 */
export default defineConfig(({ isSsrBuild, mode }) =>
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
        worker: {
          format: 'es',
          plugins: () =>
            mode === 'package'
              ? [ortWasmExternal(`export default new URL(/* @vite-ignore */ '/onnxruntime-web/${ORT_WASM_FILE}', import.meta.url).href;`)]
              : [],
        },
        plugins: mode === 'package' ? [ortWasmExternal('')] : [],
        build: {
          outDir: fileURLToPath(new URL('./dist/cli', import.meta.url)),
          emptyOutDir: true,
          target: 'es2022',
          sourcemap: false,
        },
      },
);
