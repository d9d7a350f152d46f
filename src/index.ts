/**
 * The `webdetr` package entry. Today: typed errors, the public result/option types, model-package
 * manifest validation, verified model-file loading, post-processing, and `createDetector` (the
 * worker-backed runtime). The WGSL kernels are the `webdetr/kernels` export.
 */
export * from './errors.js';
export type * from './api/types.js';
export { MANIFEST_FORMAT, parseManifest } from './model/manifest.js';
export type { BoxQueryPatch, CropQueryPatch, Dim, GraphFile, GraphStage, Manifest, MsDeformAttnStage, Pipeline, QueryPatchSpec, Stage, TensorDtype, TensorInterface, ZoomSpec } from './model/manifest.js';
export { fetchVerified, sha256Hex } from './model/fetch-verified.js';
export type { FetchVerifiedOptions, ModelFileCache, VerifiedFile } from './model/fetch-verified.js';
export type { LoadProgressCallback, LoadProgressEvent } from './model/progress.js';
export { cxcywhToPixelBox, postprocessSigmoidTopK, postprocessSoftmax } from './model/postprocess.js';
export type { ImageSize, PixelBox, RawDetection } from './model/postprocess.js';
export { createDetector } from './api/create-detector.js';
