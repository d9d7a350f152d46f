/**
 * A loaded graph must be the graph the manifest describes: every input and output the manifest binds
 * exists in the ONNX graph, with the same element type, the same rank, and at each axis where the
 * graph has a fixed size (as onnxruntime reports it, after its shape inference), the same size in the
 * manifest. A symbolic manifest dim ("patches", "patches*20") over a fixed graph axis is a mismatch
 * too: the runtime sizes that axis per call, and onnxruntime would reject every size but one in the
 * middle of a frame. Exception: a dim whose symbols no pipeline running the graph binds cannot be
 * sized by the runtime (onnxruntime allocates that output), so there is nothing to contradict. A
 * symbolic graph axis accepts any manifest dim. Checked once per session at load, so a package whose
 * manifest and graphs disagree fails with ModelIntegrityError('graph-mismatch') naming the graph,
 * tensor, axis and both values.
 */
import type { InferenceSession } from 'onnxruntime-web';
import { ModelIntegrityError } from '../errors.js';
import { dimSymbols, stageIo, type Dim, type GraphFile, type Manifest, type Pipeline } from '../package/manifest.js';
import { isPlainSymbol } from './tensor-dims.js';

export type SessionSignature = Pick<InferenceSession, 'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata'>;

function describe(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}

/** onnxruntime reports a dim_param (or an unnamed dynamic dim) as a string, a dim_value as a number. */
function isFixed(dim: number | string | undefined): dim is number {
  return typeof dim === 'number' && dim >= 0;
}

/**
 * Symbols a run of `pipeline` binds, as the runners do: plain-symbol dims of its inputs and of the
 * tensors it reads before producing them (borrowed from its `after` pipeline).
 */
function pipelineSymbols(manifest: Manifest, pipeline: Pipeline): string[] {
  const produced = new Set<string>();
  const binding = new Set(pipeline.inputs);
  for (const stage of pipeline.stages) {
    const { reads, writes } = stageIo(stage);
    for (const name of reads) if (!produced.has(name)) binding.add(name);
    for (const name of writes) produced.add(name);
  }
  return [...binding].flatMap((name) => (manifest.tensors[name]?.shape ?? []).filter(isPlainSymbol).map((d) => d.trim()));
}

/** Symbols bound in some run of `graph`: the union over the pipelines that run it. */
function graphSymbols(manifest: Manifest, graph: GraphFile): Set<string> {
  const runs = manifest.pipelines.filter((p) => p.stages.some((stage) => stage.kind === 'graph' && stage.graph === graph.name));
  return new Set(runs.flatMap((pipeline) => pipelineSymbols(manifest, pipeline)));
}

function axisProblem(what: string, axis: number, graphDim: number, declared: Dim, bound: ReadonlySet<string>): string | undefined {
  if (typeof declared === 'number') {
    return declared === graphDim ? undefined : `${what} axis ${axis} is ${graphDim} in the graph, ${declared} in the manifest`;
  }
  if (!dimSymbols(declared).every((symbol) => bound.has(symbol))) return undefined; // never sized by the runtime
  return `${what} axis ${axis} is fixed at ${graphDim} in the graph, but the manifest declares it symbolic (${JSON.stringify(declared)})`;
}

function problems(
  manifest: Manifest,
  bound: ReadonlySet<string>,
  names: readonly string[],
  present: readonly string[],
  metadata: readonly InferenceSession.ValueMetadata[],
  side: string,
): string[] {
  const found: string[] = [];
  for (const name of names) {
    if (!present.includes(name)) {
      found.push(`the graph has no ${side} ${name} (it has ${present.join(', ') || 'none'})`);
      continue;
    }
    const meta = metadata.find((m) => m.name === name);
    const declared = manifest.tensors[name];
    if (meta === undefined || !meta.isTensor || declared === undefined) continue;
    if (meta.type !== declared.dtype) found.push(`${side} ${name} is ${meta.type} in the graph, ${declared.dtype} in the manifest`);
    if (meta.shape.length === 0) continue; // shape not recorded in the graph
    if (meta.shape.length !== declared.shape.length) {
      found.push(`${side} ${name} is ${describe(meta.shape)} in the graph, ${describe(declared.shape)} in the manifest`);
      continue;
    }
    meta.shape.forEach((dim, axis) => {
      const problem = isFixed(dim) ? axisProblem(`${side} ${name}`, axis, dim, declared.shape[axis] ?? Number.NaN, bound) : undefined;
      if (problem !== undefined) found.push(problem);
    });
  }
  return found;
}

/** Throws ModelIntegrityError('graph-mismatch') when `session` is not the graph `graph` describes. */
export function checkGraphSignature(manifest: Manifest, graph: GraphFile, session: SessionSignature): void {
  const bound = graphSymbols(manifest, graph);
  const found = [
    ...problems(manifest, bound, graph.inputs, session.inputNames, session.inputMetadata ?? [], 'input'),
    ...problems(manifest, bound, graph.outputs, session.outputNames, session.outputMetadata ?? [], 'output'),
  ];
  if (found.length > 0) {
    throw new ModelIntegrityError(
      graph.file,
      'graph-mismatch',
      `${graph.file} (graph ${graph.name}) does not match the manifest: ${found.join('; ')}`,
    );
  }
}
