/**
 * The model-package manifest (manifest.json): typed interfaces and `parseManifest`, which validates
 * against schemas/manifest.schema.json with @cfworker/json-schema (an interpreter: no eval or
 * new Function, so it is CSP-safe) and then checks the cross-reference rules the schema cannot say
 * (same rules as tools/webdetr_tools/export/manifest.py).
 */
import { Validator } from '@cfworker/json-schema';
import type { Schema } from '@cfworker/json-schema';
import { ManifestError } from '../errors';
import { isBoxQueryPatch, ZOOM_PIPELINES } from './query-patch.js';
import manifestSchema from '../../schemas/manifest.schema.json';
import type { MsDeformAttnRtStage } from './rt-stage.js';

export type { MsDeformAttnRtStage } from './rt-stage.js';

export const MANIFEST_FORMAT = 'webdetr-model/1';

export type TensorDtype = 'float32' | 'float16' | 'int64' | 'int32' | 'bool';
/** A dimension is a fixed size or a symbol bound at run time (e.g. "patches", "patches*10"). */
export type Dim = number | string;

export interface TensorInterface {
  dtype: TensorDtype;
  shape: Dim[];
  layout?: string;
}

export interface GraphFile {
  name: string;
  file: string;
  bytes: number;
  sha256: string;
  /** Graph input and output names; they are also the tensor names they bind. */
  inputs: string[];
  outputs: string[];
  opset: number;
  weights: 'fp32' | 'fp16' | 'int8';
}

export interface GraphStage {
  kind: 'graph';
  graph: string;
  inputs: string[];
  outputs: string[];
}

/**
 * Level shapes computed per run (shorter-side packages): level l is ceil(H / strides[l]) x ceil(W / strides[l])
 * for the last two dims [.., H, W] of pipeline tensor `from` (the image), what the backbone's stride-2 convolutions
 * give (the exporter checks it on odd sizes).
 */
export interface LevelRule {
  from: string;
  strides: number[];
}

/** The tensors of a deformable-attention stage of either kind: four operands in, one output. */
export interface KernelStageTensors {
  name: string;
  value: string;
  referencePoints: string;
  samplingOffsets: string;
  attentionLogits: string;
  output: string;
}

/** One call of the fused multi-scale deformable attention kernel (raw offsets and raw logits in). */
export interface MsDeformAttnStage extends KernelStageTensors {
  kind: 'msDeformAttn';
  /** Fixed, or a dim expression over the pipeline's symbols (one-shot: "patches*20"), resolved per run. */
  queries: Dim;
  heads: number;
  headDim: number;
  /** Fixed (H_l, W_l) per level, or a rule evaluated per run (size-policy.ts stageLevels). */
  levels: [number, number][] | LevelRule;
  points: number;
  referenceDim: 2 | 4;
}

/** msDeformAttnRt: the RT-DETR family's cross-attention (rt-stage.ts). */
export type Stage = GraphStage | MsDeformAttnStage | MsDeformAttnRtStage;

export interface Pipeline {
  name: string;
  kind: 'split' | 'single-graph';
  description?: string;
  /** A pipeline whose outputs stay alive and are read by this one (UP-DETR: patches after image). */
  after?: string;
  inputs: string[];
  outputs: string[];
  stages: Stage[];
}

/** UP-DETR: the patches input is [1, K, 3, height, width], crops of the image normalized like it. */
export interface CropQueryPatch {
  kind?: 'crop';
  height: number;
  width: number;
  maxPatches: number;
  queriesPerPatch: number;
}

/**
 * Zoomed search (box packages): a patch whose longer side is under `below` of its image's also searches
 * grid x grid overlapping square windows of `side` (relative to the image), each stretched to the model
 * input; the views' boxes are merged by non-maximum suppression at `nmsIou`. Needs the pipelines
 * describe_patches and patches_from_descriptors (ZOOM_PIPELINES, query-patch.ts).
 */
export interface ZoomSpec {
  grid: number;
  side: number;
  below: number;
  nmsIou: number;
}

/** Our RoI one-shot model: the patches input is [1, K, 4], rectangles x0, y0, x1, y1 relative to the image (0..1). */
export interface BoxQueryPatch {
  kind: 'boxes';
  maxPatches: number;
  queriesPerPatch: number;
  zoom?: ZoomSpec;
}

export type QueryPatchSpec = CropQueryPatch | BoxQueryPatch;

/** Stretch every picture to height x width; graphs have static shapes. */
export interface FixedSizePolicy {
  kind: 'fixed';
  height: number;
  width: number;
}

/**
 * The official Deformable-DETR / Hugging Face resize, aspect ratio kept: the shorter side becomes `shortest`
 * unless the longer would then exceed `longest` (then the shorter is round(longest * shorter / longer)); the
 * longer side is truncated. Graphs take the picture at that size (size-policy.ts inputSizeFor).
 */
export interface ShorterSideSizePolicy {
  kind: 'shorter-side';
  shortest: number;
  longest: number;
  /**
   * How the longer side follows when `longest` caps the size. 'official' (the default when absent): from the
   * rounded shorter side, int(round(raw) * longer / shorter), as the official code and older transformers;
   * 'unrounded': from the unrounded raw = longest * shorter / longer, int(raw * longer / shorter), as recent
   * transformers image processors do. They differ by a pixel for some aspect ratios (a 1:3 strip at 64/107).
   */
  longerSide?: 'official' | 'unrounded';
}

export type SizePolicy = FixedSizePolicy | ShorterSideSizePolicy;

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  model: {
    family: 'deformable-detr' | 'up-detr' | 'rt-detr';
    /** 'one-shot': our query-patch model (Deformable-DETR + UP-DETR's patch branch, public/models/oneshot). */
    /** rt-detr: 'v1' or 'v2' (lyuwenyu/RT-DETR). */
    variant: 'plain' | 'box-refine' | 'two-stage' | 'pretrain' | 'detection' | 'one-shot' | 'v1' | 'v2';
    singleScale?: boolean;
    /** Where the weights came from; format: the checkpoint layout the exporter read (absent in older packages). */
    source?: { checkpoint: string; sha256: string; format?: 'official' | 'huggingface' };
    exporter?: string;
    /** A classifier's check of the best boxes, run by the package's crop_check graph (a plain graph stage). */
    cropCheck?: { shape: { k: number; size: number }; classifier?: string; rule?: string };
  };
  input: {
    sizePolicy: SizePolicy;
    /** bilinear-stretch goes with a fixed size policy, bilinear-keep-aspect with shorter-side. */
    resize: 'bilinear-stretch' | 'bilinear-keep-aspect';
    mean: [number, number, number];
    std: [number, number, number];
    pixelScale: number;
    layout: 'NCHW';
    queryPatch?: QueryPatchSpec;
  };
  output: {
    logits: string;
    boxes: string;
    classActivation: 'sigmoid' | 'softmax';
    classNames: string[];
    noObjectClass?: number;
    boxFormat: 'cxcywh-normalized';
    topK?: number;
    /** The model's suggested minimum score (default threshold of detect calls; else 0.5). */
    scoreThreshold?: number;
    /**
     * Class-wise duplicate suppression after the top-k (greedy NMS per class at this IoU, 0..1); absent:
     * none. For models whose set predictor leaves two boxes on one object (the v2b detector's teacher peaks).
     */
    duplicateIou?: number;
  };
  architecture: {
    hiddenDim: number;
    numQueries: number;
    encoderLayers: number;
    decoderLayers: number;
    numHeads: number;
    numLevels?: number;
    encoderPoints?: number;
    decoderPoints?: number;
    levelShapes?: [number, number][];
    /** Shorter-side packages: the strides their level rules use. */
    levelStrides?: number[];
    ffnDim?: number;
    preNorm?: boolean;
    backbone?: string;
  };
  graphs: GraphFile[];
  tensors: Record<string, TensorInterface>;
  pipelines: Pipeline[];
  measurements?: Record<string, unknown>;
}

const schemaValidator = new Validator(manifestSchema as unknown as Schema, '2020-12', false);

function schemaViolations(json: unknown): string[] {
  const result = schemaValidator.validate(json);
  if (result.valid) return [];
  // cfworker reports every failing keyword up the tree; the leaf errors name the actual problem.
  const pointers = new Set<string>();
  for (const error of result.errors) pointers.add(`${error.instanceLocation.replace(/^#/, '') || '/'}: ${error.error}`);
  return [...pointers];
}

/** The tensors a stage reads and writes. */
export function stageIo(stage: Stage): { reads: string[]; writes: string[] } {
  if (stage.kind === 'graph') return { reads: stage.inputs, writes: stage.outputs };
  return {
    reads: [stage.value, stage.referencePoints, stage.samplingOffsets, stage.attentionLogits],
    writes: [stage.output],
  };
}

/** Cross-reference rules: every named tensor is declared, stages read only what was produced before. */
export function referenceViolations(manifest: Manifest): string[] {
  const problems: string[] = [];
  const declared = (name: string): boolean => Object.hasOwn(manifest.tensors, name);
  const graphs = new Map<string, GraphFile>();
  for (const graph of manifest.graphs) {
    if (graphs.has(graph.name)) problems.push(`/graphs: duplicate graph name ${graph.name}`);
    graphs.set(graph.name, graph);
    for (const name of [...graph.inputs, ...graph.outputs]) {
      if (!declared(name)) problems.push(`/graphs/${graph.name}: tensor ${name} is not declared in /tensors`);
    }
  }
  for (const key of ['logits', 'boxes'] as const) {
    const name = manifest.output[key];
    if (!declared(name)) problems.push(`/output/${key}: tensor ${name} is not declared in /tensors`);
  }
  const produced = new Map<string, Set<string>>();
  for (const pipeline of manifest.pipelines) {
    const where = `/pipelines/${pipeline.name}`;
    const available = new Set(pipeline.inputs);
    if (pipeline.after !== undefined) {
      const earlier = produced.get(pipeline.after);
      if (earlier === undefined) problems.push(`${where}: after names unknown or later pipeline ${pipeline.after}`);
      else for (const name of earlier) available.add(name);
    }
    // Symbols a run can bind: plain-symbol dims of its inputs, of what it may borrow from `after`, and of
    // its graph stages' outputs once they ran (a shorter-side package's "tokens").
    const bound = plainSymbols(manifest, available);
    for (const name of pipeline.inputs) {
      if (!declared(name)) problems.push(`${where}: input ${name} is not declared in /tensors`);
    }
    pipeline.stages.forEach((stage, index) => {
      if (stage.kind === 'graph') {
        const graph = graphs.get(stage.graph);
        if (graph === undefined) problems.push(`${where}/stages/${index}: unknown graph ${stage.graph}`);
        else if (!sameNames(stage.inputs, graph.inputs) || !sameNames(stage.outputs, graph.outputs)) {
          problems.push(`${where}/stages/${index}: bindings differ from graph ${stage.graph}`);
        }
      }
      if (stage.kind === 'graph') for (const symbol of plainSymbols(manifest, stage.outputs)) bound.add(symbol);
      if (stage.kind === 'msDeformAttn' && !Array.isArray(stage.levels) && !available.has(stage.levels.from)) {
        problems.push(`${where}/stages/${index}: levels come from ${stage.levels.from}, which is not available`);
      }
      if (stage.kind === 'msDeformAttn' && typeof stage.queries === 'string') {
        const unbound = dimSymbols(stage.queries).filter((symbol) => !bound.has(symbol));
        if (unbound.length > 0)
          problems.push(
            `${where}/stages/${index}: queries ${stage.queries} uses ${unbound.join(', ')}, which no input of the pipeline binds`,
          );
      }
      const { reads, writes } = stageIo(stage);
      for (const name of reads) {
        if (!available.has(name)) problems.push(`${where}/stages/${index}: reads ${name} before anything produces it`);
      }
      for (const name of writes) {
        if (!declared(name)) problems.push(`${where}/stages/${index}: tensor ${name} is not declared in /tensors`);
        available.add(name);
      }
    });
    for (const name of pipeline.outputs) {
      if (!available.has(name)) problems.push(`${where}: output ${name} is never produced`);
    }
    produced.set(pipeline.name, available);
  }
  return [...problems, ...patchInputViolations(manifest), ...zoomViolations(manifest), ...sizePolicyViolations(manifest)];
}

function plainSymbols(manifest: Manifest, names: Iterable<string>): Set<string> {
  const symbols = new Set<string>();
  for (const name of names) {
    for (const d of manifest.tensors[name]?.shape ?? []) if (typeof d === 'string' && !/[*+]/.test(d)) symbols.add(d.trim());
  }
  return symbols;
}

/** shorter-side goes with resize bilinear-keep-aspect and no query patches; fixed with bilinear-stretch. */
function sizePolicyViolations(manifest: Manifest): string[] {
  const { sizePolicy: policy, resize } = manifest.input;
  const expected = policy.kind === 'shorter-side' ? 'bilinear-keep-aspect' : 'bilinear-stretch';
  const problems: string[] = [];
  if (resize !== expected) problems.push(`/input/resize: a ${policy.kind} size policy resizes with ${expected}, not ${resize}`);
  if (policy.kind === 'shorter-side') {
    if (manifest.input.queryPatch !== undefined) problems.push('/input/queryPatch: query-patch packages support a fixed size policy only');
    if (policy.longest < policy.shortest) problems.push('/input/sizePolicy: longest must be >= shortest');
  }
  return problems;
}

/** A zoom section needs windows that cover the image and the two pipelines the runtime runs per window. */
function zoomViolations(manifest: Manifest): string[] {
  const spec = manifest.input.queryPatch;
  if (spec === undefined || !('zoom' in spec) || spec.zoom === undefined) return [];
  const problems: string[] = [];
  const { grid, side } = spec.zoom;
  if (grid * side < 1)
    problems.push(`/input/queryPatch/zoom: ${grid} windows of side ${side} do not cover the image (grid * side must be >= 1)`);
  const names = new Set(manifest.pipelines.map((p) => p.name));
  for (const name of Object.values(ZOOM_PIPELINES)) {
    if (!names.has(name)) problems.push(`/input/queryPatch/zoom: zoomed search needs pipeline ${name}, which the package lacks`);
  }
  return problems;
}

/** The patches tensor has the shape input.queryPatch says: [1, K, 3, height, width] crops or [1, K, 4] boxes. */
function patchInputViolations(manifest: Manifest): string[] {
  const spec = manifest.input.queryPatch;
  const shape = Object.hasOwn(manifest.tensors, 'patches') ? manifest.tensors.patches?.shape : undefined;
  if (spec === undefined || shape === undefined) return [];
  const [expected, ok] = isBoxQueryPatch(spec)
    ? ['[1, K, 4] (kind boxes)', shape.length === 3 && shape[2] === 4]
    : [
        `[1, K, 3, ${spec.height}, ${spec.width}] (kind crop)`,
        shape.length === 5 && shape[2] === 3 && shape[3] === spec.height && shape[4] === spec.width,
      ];
  return ok ? [] : [`/tensors/patches: shape [${shape.join(', ')}] is not the ${expected} that /input/queryPatch declares`];
}

/** The symbols of a dim expression ("patches*20" -> ["patches"]). */
export function dimSymbols(expression: string): string[] {
  return expression
    .split(/[*+]/)
    .map((factor) => factor.trim())
    .filter((factor) => !/^[0-9]+$/.test(factor));
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

/** Validate parsed manifest.json content; throws ManifestError listing every violation. */
export function parseManifest(json: unknown): Manifest {
  const schemaProblems = schemaViolations(json);
  if (schemaProblems.length > 0) throw new ManifestError(schemaProblems);
  const manifest = json as Manifest;
  const problems = referenceViolations(manifest);
  if (problems.length > 0) throw new ManifestError(problems);
  return manifest;
}
