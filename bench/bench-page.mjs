/**
 * One headless-chromium page for a benchmark driver (run-kernel-bench, run-model-bench,
 * run-session-choices): a Vite server on the repo root, chromium with the WebGPU flags of
 * playwright.config.ts, and the page's `[bench]` console lines and errors forwarded with a time stamp.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';

/**
 * Serves the repo, opens `path` and waits until the `ready` expression (e.g. 'window.webdetrKernelBench
 * !== undefined') holds. Returns the page and its browser, and `close()` for both and the server;
 * on failure everything started is closed before the error is thrown.
 */
export async function openBenchPage({ repoRoot, port, path, ready }) {
  const server = await createServer({
    root: repoRoot,
    configFile: join(repoRoot, 'vite.config.ts'),
    logLevel: 'warn',
    // No watcher, no HMR: other people editing the tree must not reload the page mid-run.
    server: { host: '127.0.0.1', port, strictPort: true, hmr: false, watch: null },
  });
  let browser;
  const close = async () => {
    await browser?.close();
    await server.close();
  };
  try {
    await server.listen();
    // One source of truth for the WebGPU flags: the Playwright config.
    const { chromiumWebGpuArgs } = await server.ssrLoadModule('/playwright.config.ts');
    browser = await chromium.launch({ executablePath: process.env.WEBDETR_CHROMIUM ?? '/usr/bin/chromium', args: chromiumWebGpuArgs });
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    page.on('console', (message) => {
      const text = message.text();
      if (text.startsWith('[bench]') || message.type() === 'error') console.log(`${new Date().toISOString().slice(11, 19)} ${text}`);
    });
    page.on('requestfailed', (request) => console.error(`request failed: ${request.url()}`));
    page.on('response', (response) => {
      if (response.status() >= 400) console.error(`HTTP ${response.status()}: ${response.url()}`);
    });
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    await page.goto(`http://127.0.0.1:${port}${path}`);
    await page.waitForFunction(ready, null, { timeout: 120_000 });
    return { page, browser, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * A driver's whole page session: opens the page, runs `body({ page, browser })`, logs a thrown error,
 * always closes page, browser and server, then exits the process: 0, or 1 when `body` threw or
 * returned false (a failed check it already reported).
 */
export async function runOnBenchPage(options, body) {
  let bench;
  let ok = false;
  try {
    bench = await openBenchPage(options);
    ok = (await body(bench)) !== false;
  } catch (error) {
    console.error(error);
  } finally {
    await bench?.close();
  }
  process.exit(ok ? 0 : 1);
}

/** The host's load averages and uptime line, recorded before and after a run (the machines are shared). */
export function hostLoad() {
  const [one, five, fifteen] = loadavg();
  return { loadAverage: { one, five, fifteen }, uptime: execFileSync('uptime', { encoding: 'utf8' }).trim() };
}

export const cpuCount = () => execFileSync('nproc', { encoding: 'utf8' }).trim();

export const headCommit = (repoRoot) => execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
