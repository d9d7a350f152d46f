/** Which of a package's pipelines the engine runs for plain detection and for one-shot queries (the same on every backend). */
import type { Manifest } from '../package/manifest.js';
import { zoomPipelinesOf, type ZoomPipelines } from './zoomed-search.js';

export interface PipelinePlan {
  /** Pipeline for detect(image), if the package can detect without patches. */
  detect?: string;
  /** patchSlots: the fixed patch count of the patches input, when the package fixes it (else any count up to maxPatches). */
  oneShot?: { image: string; patches: string; queriesPerPatch: number; patchSlots?: number; zoom?: ZoomPipelines };
  /** Every pipeline to load graphs for. */
  pipelines: string[];
}

/**
 * Both backends run the split pipelines (our kernel between graphs: WGSL on WebGPU, WebAssembly on WASM), and
 * the split image/patches pipelines for one-shot so a re-query can skip the encoder. The single-graph export
 * (onnxruntime-web's GridSample) runs only in a package without the split detect pipeline: on WASM the split
 * pipeline was 1.1x (official R50, 384x512) to 4.2x (shipped detector) faster, same threads (bench/CPU.md).
 */
export function planPipelines(manifest: Manifest): PipelinePlan {
  const names = new Set(manifest.pipelines.map((p) => p.name));
  const plan: PipelinePlan = { pipelines: [] };
  const patchSpec = manifest.input.queryPatch;
  if (patchSpec !== undefined && names.has('image') && names.has('patches')) {
    const patchInput = manifest.pipelines.find((p) => p.name === 'patches')?.inputs[0];
    const slots = patchInput === undefined ? undefined : manifest.tensors[patchInput]?.shape[1];
    plan.oneShot = {
      image: 'image',
      patches: 'patches',
      queriesPerPatch: patchSpec.queriesPerPatch,
      ...(typeof slots === 'number' ? { patchSlots: slots } : {}),
    };
    plan.pipelines.push('image', 'patches');
    const zoom = zoomPipelinesOf(manifest);
    if (zoom !== undefined) {
      plan.oneShot.zoom = zoom;
      plan.pipelines.push(zoom.describe, zoom.fromDescriptors);
    }
  }
  // The single graph detects from the image alone only in detection packages (UP-DETR pretraining's takes patches too).
  const single = manifest.pipelines.find((p) => p.name === 'detect_single_graph' && p.inputs.length === 1 && p.inputs[0] === 'image');
  const preferred = ['detect', single?.name];
  plan.detect = preferred.find((name): name is string => name !== undefined && names.has(name));
  if (plan.detect !== undefined) plan.pipelines.push(plan.detect);
  return plan;
}
