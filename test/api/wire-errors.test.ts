import { describe, expect, it } from 'vitest';
import { errorFromWire, errorToWire } from '../../src/api/wire-errors';
import {
  DeviceLostError,
  DisposedError,
  GpuError,
  InputError,
  ManifestError,
  ModelFetchError,
  ModelIntegrityError,
  SupersededError,
  WebGpuUnavailableError,
  WorkerError,
} from '../../src/errors';

describe('typed errors across the worker boundary', () => {
  const cases: Error[] = [
    new InputError('bad patch'),
    new WebGpuUnavailableError('no adapter'),
    new GpuError('gpu-out-of-memory', 'too big'),
    new DeviceLostError('destroyed', 'device lost'),
    new DisposedError('detector'),
    new ModelFetchError('https://x/m.onnx', 'HTTP 404', { status: 404 }),
    new ModelIntegrityError('https://x/m.onnx', 'truncated', 'short file'),
    new ManifestError(['/format: unsupported', '/graphs: missing']),
    new SupersededError(),
    new WorkerError('crashed'),
  ];

  it.each(cases.map((error) => [error.name, error] as const))('%s keeps its class, code, message and fields', (_name, error) => {
    // Structured clone is what postMessage does to the wire form.
    const rebuilt = errorFromWire(structuredClone(errorToWire(error)));
    expect(rebuilt.constructor).toBe(error.constructor);
    expect(rebuilt.message).toBe(error.message);
    expect(rebuilt).toMatchObject({ code: (error as unknown as { code: string }).code, name: error.name });
    for (const field of ['url', 'status', 'reason', 'violations'] as const) {
      if (field in error)
        expect((rebuilt as unknown as Record<string, unknown>)[field]).toEqual((error as unknown as Record<string, unknown>)[field]);
    }
  });

  it('foreign errors and non-errors stay plain errors with their message', () => {
    const plain = errorFromWire(errorToWire(new TypeError('nope')));
    expect(plain).toBeInstanceOf(Error);
    expect(plain.name).toBe('TypeError');
    expect(errorFromWire(errorToWire('a string')).message).toBe('a string');
  });
});
