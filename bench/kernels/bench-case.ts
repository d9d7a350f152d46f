/** Benchmark cases as written by tools/bench/make_ms_deform_attn_onnx.py (bench/graphs/cases.json). */

export interface BenchCase {
  name: string;
  levels: [number, number][];
  /** S */
  tokens: number;
  /** Lq */
  queries: number;
  referenceDim: 2 | 4;
  batch: number;
  heads: number;
  headDim: number;
  points: number;
  /** ONNX input name -> dims, per graph kind */
  inputs: Record<GraphKind, Record<string, number[]>>;
  output: number[];
  /** graph file names in bench/graphs */
  graphs: Record<GraphKind, string>;
}

export type GraphKind = 'core' | 'fused';

export interface CasesFile {
  opset: number;
  torch: string;
  cases: Record<string, Omit<BenchCase, 'name'>>;
}

export async function loadCases(baseUrl: string): Promise<BenchCase[]> {
  const response = await fetch(`${baseUrl}/cases.json`);
  if (!response.ok) throw new Error(`cannot load ${baseUrl}/cases.json: ${response.status}`);
  const file = (await response.json()) as CasesFile;
  return Object.entries(file.cases).map(([name, c]) => ({ name, ...c }));
}

/**
 * Work of one call (per run), for the roofline-style line.
 * compulsoryBytes: every input read once + the output written once (the least any kernel can move).
 * gatheredBytes: what the bilinear gathers touch before caches: 4 corners x D floats per sample.
 * flops: 4 corner multiply-adds per channel and sample (8 FLOPs) + ~30 per sample for the location,
 * the bilinear weights and the softmax.
 */
export function workOf(c: BenchCase, kind: GraphKind) {
  const samples = c.batch * c.queries * c.heads * c.levels.length * c.points;
  const value = c.batch * c.tokens * c.heads * c.headDim;
  const output = c.batch * c.queries * c.heads * c.headDim;
  const reference = kind === 'fused' ? c.batch * c.queries * c.levels.length * c.referenceDim : 0;
  const compulsoryBytes = 4 * (value + samples * 3 /* (x, y, weight) or (dx, dy, logit) */ + reference + output);
  const gatheredBytes = 4 * samples * 4 * c.headDim + compulsoryBytes - 4 * value;
  const flops = samples * (8 * c.headDim + 30);
  return { samples, compulsoryBytes, gatheredBytes, flops };
}
