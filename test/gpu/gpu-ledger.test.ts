/** trackGpuObjects on Dawn (Node): live counts and bytes, ours (labeled) apart from unlabeled, dispose restores the device. */
import { afterAll, describe, expect, it } from 'vitest';
import { trackGpuObjects } from '../../src/gpu/gpu-ledger';
import { createGpuTensorStore } from '../../src/runtime/gpu-tensor-store';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu';

describe('trackGpuObjects', async () => {
  const { device } = await createTestGpu();
  afterAll(() => device.destroy());
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;

  it('counts buffers and textures created and not destroyed, labeled as ours and unlabeled as onnxruntime', () => {
    const ledger = trackGpuObjects(device);
    const ours = device.createBuffer({ label: 'kernel:params', size: 64, usage });
    const theirs = device.createBuffer({ size: 256, usage });
    const texture = device.createTexture({
      label: 'pixel_upload:8x4',
      size: { width: 8, height: 4 },
      format: 'rgba8unorm',
      usage: GPUTextureUsage.TEXTURE_BINDING,
    });
    expect(ledger.counts()).toEqual({
      ours: { buffers: 1, bufferBytes: 64, textures: 1, textureBytes: 128 },
      onnxruntime: { buffers: 1, bufferBytes: 256, textures: 0, textureBytes: 0 },
    });
    ours.destroy();
    ours.destroy(); // a second destroy does not count twice
    theirs.destroy();
    texture.destroy();
    expect(ledger.counts()).toEqual({
      ours: { buffers: 0, bufferBytes: 0, textures: 0, textureBytes: 0 },
      onnxruntime: { buffers: 0, bufferBytes: 0, textures: 0, textureBytes: 0 },
    });
    ledger.dispose();
    expect(Object.hasOwn(device, 'createBuffer')).toBe(false);
    device.createBuffer({ label: 'after', size: 16, usage }).destroy();
    expect(ledger.counts().ours.buffers).toBe(0);
    expect(takeUncapturedErrors()).toEqual([]);
  });

  it("sees a tensor store's growth: exactly sized graph outputs are replaced, not kept, when a run needs fewer bytes", () => {
    const ledger = trackGpuObjects(device);
    const store = createGpuTensorStore(device, 'package-runner-gpu');
    const three = store.reserve('pred_logits', [1, 30, 3], true);
    const one = store.reserve('pred_logits', [1, 10, 3], true);
    expect(one.buffer).not.toBe(three.buffer);
    expect(ledger.counts().ours).toMatchObject({ buffers: 1, bufferBytes: 128 });
    store.dispose();
    expect(ledger.counts().ours).toMatchObject({ buffers: 0, bufferBytes: 0 });
    ledger.dispose();
    expect(takeUncapturedErrors()).toEqual([]);
  });
});
