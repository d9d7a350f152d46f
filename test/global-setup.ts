/**
 * Vitest global setup. Under `npm test` (WEBDETR_E2E_EXPORT_FIRST=1, set by scripts/test.mjs) it exports
 * the packages the Node parity tests use before any test starts, so a fresh checkout's export minutes
 * count against no test timeout. The packages the browser specs share come last: Playwright's global
 * setup (e2e/global-setup.ts), running at the same time, usually has them by then (per-package lock).
 */
import { exportFixture, smallFixture, twoStageFixture } from './helpers/export-fixture';

export default function setup(): void {
  if (process.env.WEBDETR_E2E_EXPORT_FIRST !== '1') return;
  exportFixture('deformable_plain');
  twoStageFixture();
  smallFixture('deformable_plain', { derived: 'refine-3-levels-small' });
  smallFixture('deformable_plain', { derived: 'updetr-detection-small' });
  smallFixture('deformable_plain', { fp16: true });
  exportFixture('updetr_pretrain');
  smallFixture('deformable_refine');
  smallFixture('deformable_plain', { derived: 'single-scale-small' });
}
