/**
 * A loaded graph must be the graph the manifest describes: every input and output the manifest binds
 * exists in the ONNX graph, with the same element type and the same fixed dimensions (symbolic
 * dimensions on either side are not compared). Checked once per session at load, so a package whose
 * manifest and graphs disagree fails with ModelIntegrityError('graph-mismatch') naming the tensor,
 * instead of an untyped onnxruntime error in the middle of the first frame.
 */
import type { InferenceSession } from 'onnxruntime-web';
import { ModelIntegrityError } from '../errors.js';
import type { GraphFile, Manifest } from './manifest.js';

export type SessionSignature = Pick<InferenceSession, 'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata'>;

function describe(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}

function problems(manifest: Manifest, names: readonly string[], present: readonly string[], metadata: readonly InferenceSession.ValueMetadata[], side: string): string[] {
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
    const fixedDiffer = meta.shape.some((dim, i) => typeof dim === 'number' && dim >= 0 && typeof declared.shape[i] === 'number' && declared.shape[i] !== dim);
    if (meta.shape.length !== declared.shape.length || fixedDiffer) {
      found.push(`${side} ${name} is ${describe(meta.shape)} in the graph, ${describe(declared.shape)} in the manifest`);
    }
  }
  return found;
}

/** Throws ModelIntegrityError('graph-mismatch') when `session` is not the graph `graph` describes. */
export function checkGraphSignature(manifest: Manifest, graph: GraphFile, session: SessionSignature): void {
  const found = [
    ...problems(manifest, graph.inputs, session.inputNames, session.inputMetadata ?? [], 'input'),
    ...problems(manifest, graph.outputs, session.outputNames, session.outputMetadata ?? [], 'output'),
  ];
  if (found.length > 0) {
    throw new ModelIntegrityError(graph.file, 'graph-mismatch', `${graph.file} does not match the manifest: ${found.join('; ')}`);
  }
}
