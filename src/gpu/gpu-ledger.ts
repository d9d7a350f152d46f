/**
 * Counts GPU buffers and textures created on one device and not yet destroyed, from the moment the
 * ledger is installed, split into ours (every buffer and texture we make carries a label: kernel,
 * runner or preprocess name) and onnxruntime's (its WebGPU EP creates them unlabeled). It wraps the
 * device instance's createBuffer/createTexture (not the prototype) and each created object's
 * destroy, so nothing has to report in by hand and a forgotten destroy() shows up as growth.
 *
 *   const ledger = trackGpuObjects(device);
 *   ledger.counts().ours.buffers  // created and not destroyed since then
 */

export interface GpuObjectCounts {
  buffers: number;
  bufferBytes: number;
  textures: number;
  /** Texel bytes of mip level 0 (4 bytes a texel for the formats we create; others estimated at 4). */
  textureBytes: number;
}

export interface GpuLedgerCounts {
  /** Labeled objects: our runner, kernels and preprocessing. */
  ours: GpuObjectCounts;
  /** Unlabeled objects: onnxruntime-web's WebGPU EP (created after the ledger was installed). */
  onnxruntime: GpuObjectCounts;
}

export interface GpuLedger {
  counts(): GpuLedgerCounts;
  /** Restores the device's own methods (objects already wrapped keep counting their destroy). */
  dispose(): void;
}

const emptyCounts = (): GpuObjectCounts => ({ buffers: 0, bufferBytes: 0, textures: 0, textureBytes: 0 });

function textureBytes(descriptor: GPUTextureDescriptor): number {
  const size = descriptor.size;
  const [width, height = 1, layers = 1] =
    Symbol.iterator in size ? [...(size as Iterable<number>)] : [size.width, size.height, size.depthOrArrayLayers];
  return width * (height ?? 1) * (layers ?? 1) * 4;
}

export function trackGpuObjects(device: GPUDevice): GpuLedger {
  const totals: GpuLedgerCounts = { ours: emptyCounts(), onnxruntime: emptyCounts() };
  const ownCreateBuffer = Object.hasOwn(device, 'createBuffer');
  const ownCreateTexture = Object.hasOwn(device, 'createTexture');
  const createBuffer = device.createBuffer.bind(device);
  const createTexture = device.createTexture.bind(device);

  function track<T extends GPUBuffer | GPUTexture>(object: T, label: string | undefined, kind: 'buffers' | 'textures', bytes: number): T {
    const counts = label ? totals.ours : totals.onnxruntime;
    const bytesKey = kind === 'buffers' ? 'bufferBytes' : 'textureBytes';
    counts[kind] += 1;
    counts[bytesKey] += bytes;
    const destroy = object.destroy.bind(object);
    let live = true;
    object.destroy = () => {
      if (live) {
        live = false;
        counts[kind] -= 1;
        counts[bytesKey] -= bytes;
      }
      destroy();
    };
    return object;
  }

  device.createBuffer = (descriptor: GPUBufferDescriptor) => track(createBuffer(descriptor), descriptor.label, 'buffers', descriptor.size);
  device.createTexture = (descriptor: GPUTextureDescriptor) =>
    track(createTexture(descriptor), descriptor.label, 'textures', textureBytes(descriptor));

  return {
    counts: () => ({ ours: { ...totals.ours }, onnxruntime: { ...totals.onnxruntime } }),
    dispose() {
      // Deleting the own property uncovers the prototype method again.
      if (ownCreateBuffer) device.createBuffer = createBuffer;
      else delete (device as Partial<GPUDevice>).createBuffer;
      if (ownCreateTexture) device.createTexture = createTexture;
      else delete (device as Partial<GPUDevice>).createTexture;
    },
  };
}
