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

/** The graph files used by `pipelineNames`, each once, in first-use order. */
export function graphsOfPipelines(manifest: Manifest, pipelineNames: readonly string[]): GraphFile[] {
  const seen = new Map<string, GraphFile>();
  for (const name of pipelineNames) {
    for (const stage of findPipeline(manifest, name).stages) {
      if (stage.kind !== 'graph' || seen.has(stage.graph)) continue;
      const graph = manifest.graphs.find((g) => g.name === stage.graph);
      if (graph === undefined) throw new InputError(`the model package has no graph "${stage.graph}"`);
      seen.set(stage.graph, graph);
    }
  }
  return [...seen.values()];
}
