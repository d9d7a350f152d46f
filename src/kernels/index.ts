// Public kernel entry points: the `webdetr/kernels` export (WGSL kernels, their TS references, pixel upload).
export { createMsDeformAttn } from './ms-deform-attn.js';
export type {
  MsDeformAttnCoreBuffers,
  MsDeformAttnFusedBuffers,
  MsDeformAttnKernel,
  MsDeformAttnOptions,
  PreparedMsDeformAttn,
} from './ms-deform-attn.js';
export { msDeformAttnCoreReference, msDeformAttnFusedReference } from './ms-deform-attn-reference.js';
export { MAX_LEVELS, MAX_POINTS, levelStarts, tensorSizes, validateShape, valueTokens } from './ms-deform-attn-shape.js';
export type { MsDeformAttnShape, ReferenceDim } from './ms-deform-attn-shape.js';
export * from './bilinear-options.js';
export * from './bilinear-reference.js';
export * from './bilinear-resize-normalize.js';
export * from './bilinear-crop-resize.js';
export * from './pixel-upload.js';
export { createMsDeformAttnRt } from './ms-deform-attn-rt.js';
export type { MsDeformAttnRtKernel, MsDeformAttnRtOptions, PreparedMsDeformAttnRt } from './ms-deform-attn-rt.js';
export { msDeformAttnRtCoreReference, msDeformAttnRtFusedReference } from './ms-deform-attn-rt-reference.js';
export { createMsDeformAttnRtWasm } from './ms-deform-attn-rt-wasm.js';
export type { MsDeformAttnRtWasm } from './ms-deform-attn-rt-wasm.js';
export {
  RT_MAX_LEVELS,
  RT_MAX_SAMPLES,
  pointsPerLevel,
  rtTensorSizes,
  samplesPerHead,
  validateRtShape,
} from './ms-deform-attn-rt-shape.js';
export type { MsDeformAttnRtFusedShape, MsDeformAttnRtMethod, MsDeformAttnRtShape } from './ms-deform-attn-rt-shape.js';
