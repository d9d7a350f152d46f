/**
 * Which kind of query-patch input a package takes. Apart from manifest.ts so that code run by Node's own
 * loader (e2e specs, benches) can ask without importing the manifest schema JSON.
 */
import type { BoxQueryPatch, QueryPatchSpec } from './manifest.js';

/** Box patches: the patches input is [1, K, 4] rectangles relative to the image, not crops. */
export function isBoxQueryPatch(spec: QueryPatchSpec): spec is BoxQueryPatch {
  return spec.kind === 'boxes';
}

/** The pipelines zoomed search runs per window (manifest input.queryPatch.zoom; tools/webdetr_tools/ship/oneshot_package.py). */
export const ZOOM_PIPELINES = { describe: 'describe_patches', fromDescriptors: 'patches_from_descriptors' } as const;
