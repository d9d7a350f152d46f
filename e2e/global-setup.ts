/**
 * Playwright global setup. Under `npm test` (WEBDETR_E2E_EXPORT_FIRST=1, set by scripts/test.mjs) it
 * exports the packages the specs share before any test starts, so a fresh checkout's export minutes
 * (many more on a busy machine) count against no test's timeout. Without the variable (one spec at a
 * time) each spec exports only what it needs, when it needs it. Cache hits take a fraction of a second.
 */
import { exportFixture, smallFixture } from '../test/helpers/export-fixture';

export default function globalSetup(): void {
  if (process.env.WEBDETR_E2E_EXPORT_FIRST !== '1') return;
  // In the order the specs first need them (cli, detector-api, runtime-gpu-runner, demo).
  smallFixture('deformable_plain');
  smallFixture('deformable_refine');
  exportFixture('updetr_pretrain');
  smallFixture('deformable_plain', { derived: 'single-scale-small' });
  // Not the 64x96 UP-DETR: only opt-in WebGPU specs use it (WEBDETR_GPU_RUNNER_VARIANTS, WEBDETR_E2E_API_WEBGPU).
}
