/**
 * A page that runs one e2e page module from a bare HTML shell: no vite HTML transform, so no HMR client
 * whose timers and heap would count as ours (the faults and soak specs measure both). The page's console
 * and errors go to the test output, minus onnxruntime's and vite's chatter.
 */
import type { Browser, Page } from '@playwright/test';

/** `module`: e.g. 'faults-page' (e2e/pages/<module>.ts); resolves once `window[ready]` is set. */
export async function openShellPage(browser: Browser, module: string, ready: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (message) => {
    if (!/onnxruntime|\[vite\]|WebSocket/.test(message.text())) console.log(`[page] ${message.text()}`);
  });
  page.on('pageerror', (error) => console.log(`[page error] ${error.message}`));
  const shell = `/e2e/pages/${module}-shell.html`;
  await page.route(`**${shell}`, (route) =>
    route.fulfill({ contentType: 'text/html', body: `<!doctype html><script type="module" src="/e2e/pages/${module}.ts"></script>` }),
  );
  await page.goto(shell);
  await page.waitForFunction((key) => (window as unknown as Record<string, unknown>)[key] !== undefined, ready);
  return page;
}
