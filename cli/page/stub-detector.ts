/**
 * TEMPORARY stand-in for createDetector until the engine lands: loads the package for real
 * (manifest, graphs, progress, typed errors) and returns one fixed detection per image.
 */
import type { CreateDetectorOptions, Detector, ImageInput, PreparedImage, StageTimings } from '../../src/api/types.js';
import { loadGraphs, loadManifest } from '../../src/model/load-package.js';

export async function createDetector(options: CreateDetectorOptions): Promise<Detector> {
  const { manifest, manifestUrl } = await loadManifest(options.model, { cache: options.cache, onProgress: options.onProgress });
  const first = manifest.pipelines[0]?.name ?? '';
  const { bytes } = await loadGraphs(manifest, manifestUrl, [first], { cache: options.cache, onProgress: options.onProgress });
  const backend = { name: 'wasm' as const, description: 'stub', reason: 'stub detector (engine not wired yet)' };
  const { height, width } = manifest.input.sizePolicy;
  const timings = { preprocess: 0, backbone: 0, encoder: 0, decoder: 0, postprocess: 0, total: 0, model: 0, stages: [] } as StageTimings;
  const sizeOf = async (image: ImageInput | PreparedImage) => {
    const bitmap = await createImageBitmap(image as Blob);
    return { width: bitmap.width, height: bitmap.height };
  };
  const detection = { box: { x: 1, y: 2, width: 3, height: 4 }, score: 0.9, label: manifest.output.classNames[1] ?? '1', classId: 1 };
  return {
    backend,
    model: {
      family: manifest.model.family,
      variant: manifest.model.variant,
      classNames: manifest.output.classNames,
      inputSize: { width, height },
      oneShot: manifest.input.queryPatch !== undefined,
      detection: true,
      maxPatches: manifest.input.queryPatch?.maxPatches ?? 0,
      downloadBytes: bytes,
    },
    async detect(image, opts) {
      const raw = opts?.raw ? { logits: new Float32Array([0.5, -1]), logitsDims: [1, 1, 2], boxes: new Float32Array([0.5, 0.5, 0.1, 0.2]), boxesDims: [1, 1, 4] } : undefined;
      return { detections: [detection], timings, backend, imageSize: await sizeOf(image), ...(raw ? { raw } : {}) };
    },
    async detectWithPatches(image, patches) {
      return { patches: patches.map((patch) => ({ patch, detections: [detection] })), timings, backend, imageSize: await sizeOf(image), reusedImageFeatures: false };
    },
    async prepareImage(image) {
      const size = await sizeOf(image);
      return { kind: 'prepared-image', id: 1, ...size };
    },
    async dispose() {},
  };
}
