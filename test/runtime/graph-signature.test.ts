/**
 * Load-time check that the graphs are what the manifest declares (src/runtime/graph-signature.ts), on
 * the tiny test package's real ONNX graphs (onnxruntime-web wasm sessions, as the CPU runner makes
 * them): a symbolic manifest dim over a fixed graph axis (where a run binds its symbols), and a fixed
 * one of another size, are rejected at load with ModelIntegrityError('graph-mismatch') naming graph,
 * tensor, axis and both values; the committed package passes for every pipeline.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelIntegrityError } from '../../src/errors';
import { parseManifest, type Dim, type Manifest } from '../../src/package/manifest';
import type { PackageRunner } from '../../src/runtime/runner';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu';
import { readPackageGraphs } from '../helpers/package-graphs';
import { TINY_PACKAGE } from '../helpers/bad-packages';

const tinyJson = (): Record<string, unknown> =>
  JSON.parse(readFileSync(`${TINY_PACKAGE}/manifest.json`, 'utf8')) as Record<string, unknown>;

/** The tiny manifest with `tensor` declared as `shape` (still a valid manifest). */
function withShape(tensor: string, shape: Dim[]): Manifest {
  const json = tinyJson() as { tensors: Record<string, { shape: Dim[] }> };
  const declared = json.tensors[tensor];
  if (declared === undefined) throw new Error(`no tensor ${tensor}`);
  declared.shape = shape;
  return parseManifest(json);
}

async function loadError(manifest: Manifest, pipelines: string[]): Promise<unknown> {
  const graphs = await readPackageGraphs(TINY_PACKAGE, manifest, pipelines);
  const runner = await createCpuPackageRunner({ manifest, graphs, pipelines }).catch((e: unknown) => e);
  if (runner instanceof Error) return runner;
  await (runner as PackageRunner).dispose();
  return undefined;
}

describe('graph signature at load', () => {
  it('the committed tiny package matches its graphs in every pipeline', async () => {
    const manifest = parseManifest(tinyJson());
    expect(
      await loadError(
        manifest,
        manifest.pipelines.map((p) => p.name),
      ),
    ).toBeUndefined();
  });

  it('a plain symbol over a fixed graph axis -> graph-mismatch naming graph, tensor, axis, both values', async () => {
    // patch_decoder.onnx takes memory [1, 96, 32]; the manifest claims a token count the patches run binds.
    const error = await loadError(withShape('memory', [1, 'tokens', 32]), ['image', 'patches']);
    expect(error).toBeInstanceOf(ModelIntegrityError);
    expect(error).toMatchObject({ code: 'model-integrity', reason: 'graph-mismatch', url: 'patch_decoder.onnx' });
    expect((error as Error).message).toContain('patch_decoder.onnx (graph patch_decoder) does not match the manifest');
    expect((error as Error).message).toContain(
      'input memory axis 1 is fixed at 96 in the graph, but the manifest declares it symbolic ("tokens")',
    );
  });

  it('a dim expression over a fixed graph axis (one-shot style, patches*96) -> graph-mismatch', async () => {
    const error = await loadError(withShape('memory', [1, 'patches*96', 32]), ['image', 'patches']);
    expect(error).toMatchObject({ reason: 'graph-mismatch', url: 'patch_decoder.onnx' });
    expect((error as Error).message).toContain(
      'input memory axis 1 is fixed at 96 in the graph, but the manifest declares it symbolic ("patches*96")',
    );
  });

  it('a symbol no run of the graph binds is left to onnxruntime, not compared', async () => {
    // The committed package relies on this: head.onnx (detect) gives 10 queries under the shared
    // pred_logits declaration [1, "patches*10", 3], and the detect pipeline never binds patches.
    expect(await loadError(withShape('pos', [1, 'patches*96', 32]), ['detect'])).toBeUndefined();
  });

  it('a fixed manifest dim of another size -> graph-mismatch naming the axis and both sizes', async () => {
    const error = await loadError(withShape('pos', [1, 48, 32]), ['detect']);
    expect(error).toMatchObject({ reason: 'graph-mismatch', url: 'backbone.onnx' });
    expect((error as Error).message).toContain('output pos axis 1 is 96 in the graph, 48 in the manifest');
  });

  it('a symbolic graph axis accepts any manifest dim', async () => {
    // patch_decoder.onnx declares its patch axis "K" and query axis "KQ": fixed or symbolic manifest dims both load.
    expect(await loadError(withShape('patches', [1, 3, 3, 128, 128]), ['image', 'patches'])).toBeUndefined();
  });
});
