/**
 * How a pipeline run becomes what a call returns: its stage timings, post-processing (detections for the
 * picture, or per query patch) with the raw tensors on request, and the call's closing timings. detect and
 * both paths of detectWithPatches (query patches, patch descriptors) end here, so the engine's methods stop
 * at "run the pipeline".
 */
import type { BackendInfo, DetectionResult, OneShotResult, QueryPatch, StageTimings } from '../api/types.js';
import type { Manifest } from '../package/manifest.js';
import { detectionsOf, type ModelOutputs, modelOutputs, rawOutputs, type ResolvedDetectOptions } from '../postprocess/detections.js';
import type { RunResult } from '../runtime/runner.js';
import { addStages } from './timings.js';
import type { ZoomedViews } from './zoomed-search.js';

/** What every call's result carries, fixed when the call starts. */
export interface CallContext {
  manifest: Manifest;
  backend: BackendInfo;
  resolved: ResolvedDetectOptions;
  imageSize: { width: number; height: number };
  timings: StageTimings;
  /** performance.now() when the call started: timings.total runs from here. */
  started: number;
}

/** Adds the run's stages, post-processes its outputs with `assemble`, and closes postprocess and total. */
function finish<T>(call: CallContext, pipeline: string, run: RunResult, assemble: (outputs: ModelOutputs) => T): T {
  addStages(call.timings, run.stages);
  const post = performance.now();
  const assembled = assemble(modelOutputs(call.manifest, pipeline, run.outputs));
  call.timings.postprocess = performance.now() - post;
  call.timings.total = performance.now() - call.started;
  return assembled;
}

/** detect(): the picture's detections. */
export function detectionResult(call: CallContext, pipeline: string, run: RunResult): DetectionResult {
  const { manifest, resolved, imageSize } = call;
  return finish(call, pipeline, run, ({ logits, boxes }) => ({
    detections: detectionsOf(manifest, logits, boxes, imageSize, resolved),
    timings: call.timings,
    backend: call.backend,
    imageSize,
    ...(resolved.raw ? { raw: rawOutputs(logits, boxes) } : {}),
  }));
}

export interface PatchSearch {
  patches: readonly QueryPatch[];
  /** Queries each patch owns in the outputs, patch i's from i * perPatch. */
  perPatch: number;
  /** Whether the picture's encoding was reused from an earlier call. */
  reused: boolean;
  /** Zoomed search's views: each patch's detections merged from the whole picture and its windows. */
  zoomed?: ZoomedViews | undefined;
}

/** detectWithPatches(): each patch's detections among its own queries (or its zoomed views). */
export function oneShotResult(call: CallContext, pipeline: string, run: RunResult, search: PatchSearch): OneShotResult {
  const { manifest, resolved, imageSize } = call;
  const { patches, perPatch } = search;
  return finish(call, pipeline, run, (outputs) => ({
    patches: patches.map((patch, index) => ({
      patch: { ...patch },
      ...(search.zoomed?.patch(index, outputs) ?? {
        detections: detectionsOf(manifest, outputs.logits, outputs.boxes, imageSize, resolved, index * perPatch, perPatch),
        views: 1,
      }),
    })),
    timings: call.timings,
    backend: call.backend,
    imageSize,
    reusedImageFeatures: search.reused,
    ...(resolved.raw ? { raw: rawOutputs(outputs.logits, outputs.boxes, patches.length * perPatch) } : {}),
  }));
}
