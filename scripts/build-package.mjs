#!/usr/bin/env node
/**
 * `npm run build:package` (and `prepack`): builds exactly what package.json's `exports` and `bin` need,
 * from clean folders so no file of an earlier build (or of the demo build) is packed:
 *   dist/lib        `webdetr`, `webdetr/kernels`: ESM, dependencies left as imports (vite.lib.config.ts)
 *   dist/types      their .d.ts (tsconfig.build.json)
 *   dist/embed      `webdetr/embed`, the script-tag build, without onnxruntime's .wasm (--mode package)
 *   dist/cli        the CLI's chromium page (`--backend webgpu`), without onnxruntime's .wasm
 *   dist/cli-node   the CLI's Node engine (WASM, the default)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const steps = [
  ['vite', 'build', '-c', 'vite.lib.config.ts'],
  ['vite', 'build', '-c', 'vite.embed.config.ts', '--mode', 'package'],
  ['vite', 'build', '-c', 'vite.cli.config.ts', '--mode', 'package'],
  ['vite', 'build', '-c', 'vite.cli.config.ts', '--ssr', 'cli/node/run-node.ts'],
  ['tsc', '-p', 'tsconfig.build.json'],
];

for (const dir of ['lib', 'types', 'embed', 'cli', 'cli-node']) rmSync(`dist/${dir}`, { recursive: true, force: true });
for (const [tool, ...args] of steps) {
  // The repository's own binaries: `npm pack` runs this with node_modules/.bin on the PATH, but a
  // direct `node scripts/build-package.mjs` may not have it.
  execFileSync(`node_modules/.bin/${tool}`, [...args, ...(tool === 'vite' ? ['--logLevel', 'warn'] : [])], { stdio: 'inherit' });
}

// The public types name GPUDevice, GPUBuffer, ... (the kernels, the runner's device): each entry's
// .d.ts pulls in the WebGPU types (@webgpu/types, a dependency), which TypeScript's DOM library lacks,
// so an app type-checks without adding them to its own `types`.
for (const entry of ['index', 'kernels/index', 'embed/index']) {
  const path = `dist/types/${entry}.d.ts`;
  writeFileSync(path, `/// <reference types="@webgpu/types" />\n${readFileSync(path, 'utf8')}`);
}
