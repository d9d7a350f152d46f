/** Which graph files a set of pipelines needs: the loader fetches only these, runners create sessions for them. */
import { InputError } from '../errors.js';
import type { GraphFile, Manifest, Pipeline } from './manifest.js';

export function findPipeline(manifest: Manifest, name: string): Pipeline {
  const pipeline = manifest.pipelines.find((p) => p.name === name);
  if (pipeline === undefined) {
    throw new InputError(`the model package has no pipeline "${name}" (it has: ${manifest.pipelines.map((p) => p.name).join(', ')})`);
  }
  return pipeline;
}

/**
 * The graph files the named pipelines run, and those of the pipelines they run `after` (UP-DETR's
 * `patches` reads what `image` left alive), each once, in first-use order with an `after`
 * pipeline's graphs first. The loader fetches exactly these; runners create a session for each.
 */
export function graphsOfPipelines(manifest: Manifest, pipelineNames: readonly string[]): GraphFile[] {
  const wanted = new Map<string, GraphFile>();
  const visited = new Set<string>();
  const visit = (name: string): void => {
    if (visited.has(name)) return;
    visited.add(name);
    const pipeline = findPipeline(manifest, name);
    if (pipeline.after !== undefined) visit(pipeline.after);
    for (const stage of pipeline.stages) {
      if (stage.kind !== 'graph' || wanted.has(stage.graph)) continue;
      const graph = manifest.graphs.find((g) => g.name === stage.graph);
      if (graph === undefined) throw new InputError(`the model package has no graph "${stage.graph}"`);
      wanted.set(stage.graph, graph);
    }
  };
  for (const name of pipelineNames) visit(name);
  return [...wanted.values()];
}
