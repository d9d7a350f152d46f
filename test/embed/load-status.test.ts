/** The <web-detr> status line's texts: load progress with the runtime file, the steps after it, the backend reason in attribute terms. */
import { describe, expect, it } from 'vitest';
import { backendStatus, loadStatus } from '../../src/embed/load-status.js';

describe('<web-detr> load status', () => {
  it('counts the runtime file and the graphs against the whole download, then names the step', () => {
    const line = loadStatus();
    expect(line({ status: 'initiate', file: 'runtime', url: 'x', total: 28_000_000 })).toBe('Loading model: 0 kB of 28.0 MB (file 1)');
    expect(line({ status: 'progress', file: 'runtime', loaded: 14_000_000, total: 28_000_000 })).toBe(
      'Loading model: 14.0 MB of 28.0 MB (file 1)',
    );
    line({ status: 'done', file: 'runtime', total: 28_000_000, fromCache: false });
    expect(
      line({ status: 'initiate', file: 'a.onnx', url: 'y', total: 2_000_000, fileIndex: 1, fileCount: 2, totalBytes: 30_000_000 }),
    ).toBe('Loading model: 28.0 MB of 30.0 MB (file 2 of 2)');
    line({ status: 'done', file: 'a.onnx', total: 2_000_000, fromCache: false });
    expect(line({ status: 'ready', files: 2, totalBytes: 30_000_000 })).toBe('Loading model: all 30.0 MB downloaded; preparing it…');
    expect(line({ status: 'preparing', step: 'sessions', graphs: 1 })).toBe(
      'Loading model: 30.0 MB downloaded; creating onnxruntime sessions…',
    );
    expect(line({ status: 'prepared', ms: { sessions: 5 } })).toBeUndefined();
  });

  it('says backend="webgpu", the attribute, not the JS option', () => {
    const text = backendStatus({
      name: 'wasm',
      description: 'WASM (onnxruntime-web, 1 thread)',
      reason: 'the WebGPU adapter is a CPU fallback (SwiftShader), where WASM is far faster; pass backend: "webgpu" to use it anyway',
    });
    expect(text).toBe(
      'WASM (onnxruntime-web, 1 thread): the WebGPU adapter is a CPU fallback (SwiftShader), where WASM is far faster; set backend="webgpu" to use it anyway',
    );
    expect(backendStatus({ name: 'wasm', description: 'WASM', reason: 'WASM was asked for (backend: "wasm")' })).toBe(
      'WASM: WASM was asked for (backend="wasm")',
    );
  });
});
