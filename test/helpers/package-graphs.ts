import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../../src/package/manifest';
import { graphsOfPipelines } from '../../src/package/pipeline-graphs';

/** Reads the graph files `pipelines` need from an exported package directory. */
export async function readPackageGraphs(dir: string, manifest: Manifest, pipelines: readonly string[]): Promise<Map<string, Uint8Array>> {
  const graphs = new Map<string, Uint8Array>();
  for (const graph of graphsOfPipelines(manifest, pipelines)) graphs.set(graph.name, await readFile(join(dir, graph.file)));
  return graphs;
}
