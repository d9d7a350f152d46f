#!/usr/bin/env node
/**
 * `npm run fixtures`: regenerates every kernel parity fixture in test/fixtures/ from the PyTorch
 * formulas (tools/fixtures/*.py, seeded). The committed files must come out equal: metadata and graph structure
 * exactly, float values within 1e-6 (an ULP may differ between CPUs; tools/webdetr_tools/artifact_compare.py). The
 * pytest suites check that for a sample of cases.
 */
import { spawnSync } from 'node:child_process';
import { PYTHON } from './system-deps.mjs';

for (const script of [
  'tools/fixtures/ms_deform_attn.py',
  'tools/fixtures/ms_deform_attn_rt.py',
  'tools/fixtures/bilinear.py',
  'tools/fixtures/tiny_package.py',
]) {
  console.log(`[fixtures] ${script}`);
  // tools/ on the path: the generators import webdetr_tools (no sys.path edits in tools/)
  const result = spawnSync(PYTHON, [script], { stdio: 'inherit', env: { ...process.env, PYTHONPATH: 'tools' } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
