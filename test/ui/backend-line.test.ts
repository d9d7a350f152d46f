/**
 * The demo's backend line (src/ui/status.ts): on WASM it names onnxruntime-web's thread count (issue 28),
 * and why only one where the page is not cross-origin isolated; the runtime's reason in the page's terms.
 */
import { describe, expect, it } from 'vitest';
import { backendSentence } from '../../src/ui/status.js';

describe('backendSentence', () => {
  it('WASM: the thread count from backend.description, the reason with ?backend=webgpu', () => {
    expect(
      backendSentence({
        name: 'wasm',
        description: 'WASM (onnxruntime-web, 2 threads)',
        reason: 'the WebGPU adapter is a CPU fallback (SwiftShader), where WASM is far faster; pass backend: "webgpu" to use it anyway',
      }),
    ).toBe(
      'Running on WASM (onnxruntime-web, 2 threads). The WebGPU adapter is a CPU fallback (SwiftShader), where WASM is far faster (add ?backend=webgpu to the address to use it anyway).',
    );
  });

  it('WASM in a page that is not cross-origin isolated: one thread and why', () => {
    const line = backendSentence({
      name: 'wasm',
      description: 'WASM (onnxruntime-web, 1 thread: not cross-origin isolated)',
      reason: 'WASM was asked for (backend: "wasm")',
    });
    expect(line).toBe(
      'Running on WASM (onnxruntime-web, 1 thread: not cross-origin isolated). WASM was asked for (?backend=wasm in the address).',
    );
  });
});
