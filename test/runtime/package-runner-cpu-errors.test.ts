import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelIntegrityError } from '../../src/errors';
import { parseManifest } from '../../src/package/manifest';
import { createCpuPackageRunner } from '../../src/runtime/package-runner-cpu';
import { graphsOfPipelines } from '../../src/package/pipeline-graphs';

describe('CPU runner on a broken package', () => {
  it('a graph that verified but is not ONNX -> ModelIntegrityError(invalid-graph), no session left behind', async () => {
    const manifest = parseManifest(JSON.parse(readFileSync('test/fixtures/manifests/valid/minimal-deformable.json', 'utf8')));
    const pipeline = manifest.pipelines[0]?.name ?? '';
    const graphs = new Map(graphsOfPipelines(manifest, [pipeline]).map((g) => [g.name, new TextEncoder().encode('<html>not onnx</html>')]));
    const error = await createCpuPackageRunner({ manifest, graphs, pipelines: [pipeline] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelIntegrityError);
    expect(error).toMatchObject({ code: 'model-integrity', reason: 'invalid-graph' });
  });
});
