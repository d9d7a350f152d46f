/**
 * Loads the CLI's Node engine (cli/node/run-node.ts): in a repository checkout through vite's
 * ssrLoadModule from the TypeScript sources (as the page comes from vite's dev middleware there), in
 * an installed package from the prebuilt bundle dist/cli-node/run-node.mjs (`npm run build:cli`).
 * Dependencies (onnxruntime-web, @jsquash/jpeg) stay external in both: Node loads them from
 * node_modules, and onnxruntime-web finds its .wasm files next to its own module there.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { choosePageMode, PACKAGE_ROOT } from './server.mjs';

/**
 * @param {{ root?: string, mode?: 'vite' | 'dist' }} [options]
 * @returns {Promise<{ mode: 'vite' | 'dist', runNode: import('./node-runner.d.mts').RunNode, close(): Promise<void> }>}
 */
export async function loadNodeRunner(options = {}) {
  const root = options.root ?? PACKAGE_ROOT;
  const mode = options.mode ?? choosePageMode(root);
  if (mode === 'dist') {
    const bundle = join(root, 'dist', 'cli-node', 'run-node.mjs');
    if (!existsSync(bundle)) throw new Error(`the CLI's Node engine is not built (${bundle} is missing): run \`npm run build:cli\``);
    const module = await import(pathToFileURL(bundle).href);
    return { mode, runNode: module.runNode, close: async () => undefined };
  }
  const { createServer } = await import('vite');
  const vite = await createServer({
    root,
    configFile: join(root, 'vite.config.ts'),
    logLevel: 'error',
    appType: 'custom',
    // Only its module graph is used: no HTTP server, no websocket, no file watching.
    server: { middlewareMode: true, hmr: false, watch: null, ws: false },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  try {
    const module = await vite.ssrLoadModule('/cli/node/run-node.ts');
    return { mode, runNode: module.runNode, close: () => vite.close() };
  } catch (error) {
    await vite.close();
    throw error;
  }
}
