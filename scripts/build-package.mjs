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

// `npm pack --dry-run` lists what is built now and builds nothing: a dry run must not empty dist/ under
// whatever else uses it (e2e/cli.spec.ts lists the files that way while other suites serve dist/).
if (process.env.npm_lifecycle_event === 'prepack' && process.env.npm_config_dry_run === 'true') {
  process.stderr.write('build-package: dry run, dist/ left as it is (npm run build:package builds it)\n');
  process.exit(0);
}
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
