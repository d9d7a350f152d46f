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
