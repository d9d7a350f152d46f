import { afterEach, describe, expect, it } from 'vitest';
import { acquireDevice } from '../../src/gpu/device.js';
import { createGpuTimer } from '../../src/gpu/gpu-timer.js';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu.js';

// A pass that does measurable work: each invocation spins on a float sum.
const busyWgsl = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  var acc = 0.0;
  for (var i = 0u; i < 2000u; i++) { acc = acc * 0.999 + f32(i ^ id.x); }
  out[id.x] = acc;
}`;

function encodeBusyPasses(device: GPUDevice, encoder: GPUCommandEncoder, writes: (GPUComputePassTimestampWrites | undefined)[]) {
  const module = device.createShaderModule({ code: busyWgsl });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const out = device.createBuffer({ size: 4096 * 4, usage: GPUBufferUsage.STORAGE });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: out } }],
  });
  for (const timestampWrites of writes) {
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(64);
    pass.end();
  }
}

describe('createGpuTimer', () => {
  afterEach(() => {
    expect(takeUncapturedErrors()).toEqual([]);
  });

  it('times each labelled pass of a frame, twice in a row with recycled buffers', async () => {
    const { device, hasTimestampQuery } = await createTestGpu();
    // SwiftShader through Dawn offers timestamp-query; without it this test would not test anything.
    expect(hasTimestampQuery).toBe(true);
    const timer = createGpuTimer(device, { capacity: 2, label: 'test-timer' });
    expect(timer.enabled).toBe(true);
    for (let frame = 0; frame < 2; frame++) {
      const encoder = device.createCommandEncoder();
      encodeBusyPasses(device, encoder, [timer.passTimestampWrites('first'), timer.passTimestampWrites('second')]);
      timer.resolve(encoder);
      device.queue.submit([encoder.finish()]);
      const timings = await timer.read();
      expect(timings.map((t) => t.label)).toEqual(['first', 'second']);
      for (const t of timings) {
        expect(Number.isFinite(t.durationNs)).toBe(true);
        expect(t.durationNs).toBeGreaterThan(0);
        expect(t.durationNs).toBeLessThan(60e9);
      }
    }
    expect(() => {
      timer.passTimestampWrites('a');
      timer.passTimestampWrites('b');
      timer.passTimestampWrites('c');
    }).toThrow(RangeError);
    timer.dispose();
  });

  it('is a no-op that reads an empty list when the device lacks timestamp-query', async () => {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const { device, hasTimestampQuery } = await acquireDevice(create([]) as GPU, { timestamps: false });
    expect(hasTimestampQuery).toBe(false);
    const timer = createGpuTimer(device);
    expect(timer.enabled).toBe(false);
    const encoder = device.createCommandEncoder();
    encodeBusyPasses(device, encoder, [timer.passTimestampWrites('untimed')]);
    timer.resolve(encoder);
    device.queue.submit([encoder.finish()]);
    expect(await timer.read()).toEqual([]);
    timer.dispose();
    device.destroy();
  });
});
