/** Manifest stage timings -> the public per-stage buckets (backbone / encoder / decoder). */
import type { StageTimings } from '../api/types.js';
import type { StageTiming } from '../runtime/runner.js';

export type ModelBucket = 'backbone' | 'encoder' | 'decoder' | 'model';

/**
 * Our exporter's stage names: `encoder_input` holds the backbone (plus the input projections),
 * `encoder_*` / `image_encoder` / kernel stages `encoder_*` the encoder, `decoder_*`, `head`,
 * `patch_*` the decoder side. A single-graph run cannot be split and only counts towards `model`.
 */
export function bucketOf(stage: string): ModelBucket {
  if (stage === 'encoder_input' || stage.includes('backbone')) return 'backbone';
  if (stage.startsWith('enc') || stage.includes('encoder')) return 'encoder';
  if (stage.startsWith('dec') || stage.startsWith('head') || stage.startsWith('patch')) return 'decoder';
  return 'model';
}

export function emptyTimings(): StageTimings {
  return { preprocess: 0, backbone: 0, encoder: 0, decoder: 0, model: 0, postprocess: 0, total: 0, stages: [] };
}

export function addStages(timings: StageTimings, stages: readonly StageTiming[]): void {
  for (const { stage, kind, ms } of stages) {
    const bucket = bucketOf(stage);
    if (bucket !== 'model') timings[bucket] += ms;
    timings.model += ms;
    timings.stages.push({ stage, kind, ms });
  }
}
