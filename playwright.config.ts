import { defineConfig } from '@playwright/test';
import { chromiumWebGpuArgs } from './cli/chromium-flags.mjs';

/** Re-exported for bench/run-kernel-bench.mjs, which loads this config through vite. */
export { chromiumWebGpuArgs };

const port = Number(process.env.WEBDETR_E2E_PORT ?? 5183);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  // Exports the shared test packages first when WEBDETR_E2E_EXPORT_FIRST=1 (npm test).
  globalSetup: './e2e/global-setup.ts',
  // SwiftShader is CPU emulation: one worker, generous timeouts.
  workers: 1,
  fullyParallel: false,
  timeout: 300_000,
  expect: { timeout: 30_000 },
  reporter: process.env.CI ? [['list']] : [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium',
      args: chromiumWebGpuArgs,
    },
  },
  webServer: {
    command: `npx vite --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}/e2e/pages/index.html`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
