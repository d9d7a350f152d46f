/**
 * Test page for shorter-side packages: window.aspectRatio.run loads one detector and detects on each picture
 * (raw RGBA files of the aspect-ratio fixture), returning raw outputs and detections for the spec to compare.
 * Everything runs as for a user: createDetector -> worker -> engine (preprocessing at the picture's own size on
 * the chosen backend, graphs, kernels with per-run level shapes, post-processing to the original picture).
 */
import { createDetector } from '../../src/index.js';
import type { BackendPreference, Detection } from '../../src/index.js';

export interface AspectPictureRef {
  name: string;
  url: string;
  width: number;
  height: number;
}

export interface AspectRun {
  name: string;
  logits: number[];
  boxes: number[];
  detections: Detection[];
  imageSize: { width: number; height: number };
  ms: number;
}

export interface AspectResult {
  backend: string;
  sizePolicy: unknown;
  runs: AspectRun[];
}

async function run(model: string, backend: BackendPreference, pictures: AspectPictureRef[]): Promise<AspectResult> {
  const detector = await createDetector({ model, backend, cache: false });
  try {
    const runs: AspectRun[] = [];
    for (const picture of pictures) {
      const bytes = new Uint8ClampedArray(await (await fetch(picture.url)).arrayBuffer());
      const image = new ImageData(bytes, picture.width, picture.height);
      const started = performance.now();
      const result = await detector.detect(image, { raw: true, threshold: 0, maxDetections: 100 });
      runs.push({
        name: picture.name,
        logits: Array.from(result.raw?.logits ?? []),
        boxes: Array.from(result.raw?.boxes ?? []),
        detections: result.detections,
        imageSize: result.imageSize,
        ms: performance.now() - started,
      });
    }
    return { backend: detector.backend.name, sizePolicy: detector.model.sizePolicy, runs };
  } finally {
    await detector.dispose();
  }
}

declare global {
  interface Window {
    aspectRatio?: { run: typeof run };
  }
}
window.aspectRatio = { run };
