/**
 * The manifest stage of the RT-DETR family's deformable cross-attention (kind "msDeformAttnRt"), run by the
 * ms_deform_attn_rt kernels: per-level point counts, bilinear or RT-DETRv2 "discrete" sampling, box offsets
 * scaled by offsetScale, one reference row per query shared by every level. Kept beside manifest.ts so the
 * Deformable-DETR stage stays as it is.
 */
import type { MsDeformAttnRtFusedShape, MsDeformAttnRtMethod } from '../kernels/ms-deform-attn-rt-shape.js';
import type { KernelStageTensors } from './manifest.js';

export interface MsDeformAttnRtStage extends KernelStageTensors {
  kind: 'msDeformAttnRt';
  /** Fixed, or a dim expression over the pipeline's symbols, resolved per run. */
  queries: number | string;
  heads: number;
  headDim: number;
  levels: [number, number][];
  /** Sampling points per level. */
  points: number[];
  referenceDim: 2 | 4;
  sharedReference: boolean;
  offsetScale: number;
  method: MsDeformAttnRtMethod;
}

/** The kernel shape of one run of the stage. */
export function rtStageShape(stage: MsDeformAttnRtStage, batch: number, queries: number): MsDeformAttnRtFusedShape {
  return {
    batch,
    queries,
    heads: stage.heads,
    headDim: stage.headDim,
    levels: stage.levels,
    points: stage.points,
    method: stage.method,
    referenceDim: stage.referenceDim,
    sharedReference: stage.sharedReference,
    offsetScale: stage.offsetScale,
  };
}
