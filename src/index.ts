/**
 * The `webdetr` package entry. Today: typed errors, the public result/option types, model-package
 * manifest validation, verified model-file loading, post-processing, and `createDetector` (the
 * worker-backed runtime). The WGSL kernels are the `webdetr/kernels` export.
 */
export * from './errors.js';
export type * from './api/types.js';
export { MANIFEST_FORMAT, parseManifest } from './package/manifest.js';
export type {
  BoxQueryPatch,
  CropQueryPatch,
  Dim,
  GraphFile,
  GraphStage,
  Manifest,
  MsDeformAttnStage,
  Pipeline,
  QueryPatchSpec,
  Stage,
  TensorDtype,
  TensorInterface,
  ZoomSpec,
} from './package/manifest.js';
export { fetchVerified, sha256Hex } from './package/fetch-verified.js';
export type { FetchVerifiedOptions, ModelFileCache, VerifiedFile } from './package/fetch-verified.js';
export type { LoadProgressCallback, LoadProgressEvent } from './package/progress.js';
export { cxcywhToPixelBox, postprocessSigmoidTopK, postprocessSoftmax } from './postprocess/postprocess.js';
export type { ImageSize, PixelBox, RawDetection } from './postprocess/postprocess.js';
export { createDetector } from './api/create-detector.js';
export { enableCrossOriginIsolation } from './api/cross-origin-isolation.js';
export type { IsolationOptions, IsolationState } from './api/cross-origin-isolation.js';
