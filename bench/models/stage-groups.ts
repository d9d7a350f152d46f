/**
 * Which part of the model a manifest stage belongs to, for per-part medians: the backbone graph
 * (CenterNet + input projection + first attention projections), encoder graphs, decoder graphs, our
 * attention kernel (encoder / decoder), or the whole single graph. Pure, unit-tested.
 */
export type StageGroup = 'backbone' | 'encoder' | 'decoder' | 'attention-encoder' | 'attention-decoder' | 'patch-queries' | 'single-graph';

export function stageGroup(stage: string, kind: 'graph' | 'msDeformAttn' | 'msDeformAttnRt'): StageGroup {
  // RT-DETR's only deformable attention is the decoder's cross-attention.
  if (kind === 'msDeformAttnRt') return 'attention-decoder';
  if (kind === 'msDeformAttn') return stage.startsWith('decoder') ? 'attention-decoder' : 'attention-encoder';
  if (stage === 'single_graph') return 'single-graph';
  if (stage === 'encoder_input') return 'backbone';
  if (stage === 'patch_queries' || stage === 'patch_descriptors') return 'patch-queries';
  if (stage.startsWith('encoder') || stage === 'memory_values') return 'encoder';
  return 'decoder';
}

/** Sum of stage times per group for one run. */
export function groupTimes(
  stages: readonly { stage: string; kind: 'graph' | 'msDeformAttn' | 'msDeformAttnRt'; ms: number }[],
): Partial<Record<StageGroup, number>> {
  const out: Partial<Record<StageGroup, number>> = {};
  for (const s of stages) {
    const group = stageGroup(s.stage, s.kind);
    out[group] = (out[group] ?? 0) + s.ms;
  }
  return out;
}

/** Per-key medians over runs of key -> value records (keys missing in a run are skipped for that run). */
export function medianByKey(runs: readonly Record<string, number>[], median: (values: number[]) => number): Record<string, number> {
  const values = new Map<string, number[]>();
  for (const run of runs) for (const [key, v] of Object.entries(run)) values.set(key, [...(values.get(key) ?? []), v]);
  return Object.fromEntries([...values].map(([key, list]) => [key, median(list)]));
}
