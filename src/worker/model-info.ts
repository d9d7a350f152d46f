/** What the page learns about a loaded package (Detector.model), from its manifest and pipeline plan. */
import type { ModelInfo } from '../api/types.js';
import type { Manifest } from '../package/manifest.js';
import { DEFAULT_THRESHOLD } from '../postprocess/detections.js';
import type { PipelinePlan } from './pipeline-plan.js';

export function modelInfo(manifest: Manifest, plan: PipelinePlan, downloadBytes: number): ModelInfo {
  const policy = manifest.input.sizePolicy;
  // Shorter-side packages run each picture at its own size: inputSize gives the bounds (shorter side, longer side).
  const { height, width } = policy.kind === 'fixed' ? policy : { height: policy.shortest, width: policy.longest };
  return {
    family: manifest.model.family,
    variant: manifest.model.variant,
    classNames: [...manifest.output.classNames],
    inputSize: { width, height },
    sizePolicy:
      policy.kind === 'fixed'
        ? { kind: 'fixed' }
        : { kind: 'shorter-side', shortest: policy.shortest, longest: policy.longest, longerSide: policy.longerSide ?? 'official' },
    oneShot: plan.oneShot !== undefined,
    detection: plan.detect !== undefined,
    maxPatches: manifest.input.queryPatch?.maxPatches ?? 0,
    ...(plan.oneShot?.zoom !== undefined ? { zoom: { ...plan.oneShot.zoom.spec } } : {}),
    scoreThreshold: manifest.output.scoreThreshold ?? DEFAULT_THRESHOLD,
    downloadBytes,
    // The worker fills in what the page fetched for it.
    runtimeBytes: 0,
  };
}
