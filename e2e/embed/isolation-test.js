// For e2e/isolation.spec.ts (an external file: the strict CSP forbids inline scripts). The page and the embed
// build are served from one directory by a server that sends no COOP/COEP headers.
import { createDetector, enableCrossOriginIsolation } from './webdetr.js';

window.__isolation = { loads: Number(sessionStorage.getItem('loads') ?? 0) + 1 };
sessionStorage.setItem('loads', String(window.__isolation.loads));
try {
  const params = new URLSearchParams(location.search);
  const state = params.has('skip') ? 'skipped' : await enableCrossOriginIsolation({ serviceWorkerUrl: './isolation-sw.js' });
  window.__isolation.state = state;
  if (state !== 'reloading') {
    const detector = await createDetector({ model: '/model/manifest.json', backend: 'wasm', cache: false });
    const pixels = new ImageData(new Uint8ClampedArray(96 * 64 * 4).fill(128), 96, 64);
    const result = await detector.detect(pixels, { threshold: 0 });
    Object.assign(window.__isolation, {
      isolated: crossOriginIsolated,
      description: detector.backend.description,
      count: result.detections.length,
    });
    await detector.dispose();
  }
} catch (error) {
  window.__isolation.error = String(error);
}
window.__isolation.done = window.__isolation.state !== 'reloading';
