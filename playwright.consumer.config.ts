import { defineConfig } from '@playwright/test';
import { chromiumWebGpuArgs } from './cli/chromium-flags.mjs';

/**
 * The consumer test (e2e/consumer/, `npm run test:consumer`, npm test's `consumer` suite): the packed
 * package installed in a throwaway project. Its own config: it needs no dev server, and its
 * `*.test.ts` name keeps it out of the main browser suite (playwright.config.ts runs `*.spec.ts`).
 */
export default defineConfig({
  testDir: 'e2e/consumer',
  testMatch: '**/*.test.ts',
  workers: 1,
  fullyParallel: false,
  timeout: 300_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  outputDir: 'test-results/consumer',
  use: {
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium',
      args: chromiumWebGpuArgs,
    },
  },
});
