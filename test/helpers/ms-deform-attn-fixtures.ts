/** The ms_deform_attn parity fixtures read from disk (Node tests; the chromium page fetches them instead). */
import { readFileSync } from 'node:fs';
import { loadCase, type LoadedCase, type MsDeformAttnCaseMeta } from './ms-deform-attn-case.js';

/** Max abs error against the float64 PyTorch formula, for every kernel (WGSL and WebAssembly; issue 3). */
export const MS_DEFORM_ATTN_TOLERANCE = 2e-5;

const dir = new URL('../fixtures/ms_deform_attn/', import.meta.url);

export const msDeformAttnCases = (JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: MsDeformAttnCaseMeta[] }).cases;

export function loadMsDeformAttnCase(meta: MsDeformAttnCaseMeta): LoadedCase {
  const bytes = readFileSync(new URL(`${meta.name}.bin`, dir));
  return loadCase(meta, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
