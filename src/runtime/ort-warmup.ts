/**
 * Starts onnxruntime-web's WebAssembly runtime before the model's graphs are here. onnxruntime
 * compiles and instantiates its ~28 MB .wasm at the first InferenceSession.create; on a slow machine
 * that is seconds the page used to spend after the download bar was full. Creating (and releasing) a
 * one-node session while the graphs download moves that work under the download.
 */
import * as ort from 'onnxruntime-web';
import { wasmThreads } from './create-runner.js';

/** A valid ONNX model (IR 8, opset 17): y = Identity(x), x and y float[1]; 68 bytes. */
const IDENTITY_MODEL_BASE64 = 'CAg6OgoQCgF4EgF5IghJZGVudGl0eRIEd2FybVoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEBE=';

function identityModel(): Uint8Array {
  const text = atob(IDENTITY_MODEL_BASE64);
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * Initializes onnxruntime's WASM runtime (the same thread count the CPU runner uses: it is fixed at
 * initialization). Resolves with the milliseconds it took; a failure is left for the real session
 * creation to report with its graph's name.
 */
export async function warmOrtWasm(): Promise<number> {
  const started = performance.now();
  ort.env.wasm.numThreads = wasmThreads();
  try {
    const session = await ort.InferenceSession.create(identityModel(), { executionProviders: ['wasm'] });
    await session.release();
  } catch {
    // The graphs' own sessions will fail with a clear error if the runtime really cannot start.
  }
  return performance.now() - started;
}
