/** GPU-side checks, uniform packing and pipelines shared by the two bilinear kernel wrappers. */
import bilinearFilters from '../../shaders/bilinear_filters.wgsl?raw';
import { InputError } from '../errors.js';
import { getComputePipeline, getShaderModule } from '../gpu/pipeline-cache.js';
import { BILINEAR_MODES, type BilinearMode, type Rgb } from './bilinear-options.js';

/** Both shaders use @workgroup_size(8, 8) over (x, y) output pixels. */
export const WORKGROUP_SIDE = 8;

/** Largest input side the shaders' i32 index products stay exact for (with outputs <= 16384). */
export const MAX_SOURCE_SIDE = 32768;

export function checkSourceTexture(what: string, source: GPUTexture): void {
  if (source.width > MAX_SOURCE_SIDE || source.height > MAX_SOURCE_SIDE) {
    throw new InputError(`${what}: source ${source.width}x${source.height} exceeds ${MAX_SOURCE_SIDE} pixels per side`);
  }
  if (source.format !== 'rgba8unorm') throw new InputError(`${what}: source texture must be rgba8unorm, got ${source.format}`);
  if (!(source.usage & GPUTextureUsage.TEXTURE_BINDING)) throw new InputError(`${what}: source texture lacks TEXTURE_BINDING usage`);
  if (source.dimension !== '2d' || source.depthOrArrayLayers !== 1 || source.sampleCount !== 1) {
    throw new InputError(`${what}: source must be a single-layer, single-sample 2d texture`);
  }
}

export function checkOutputBuffer(what: string, output: GPUBuffer, floats: number): void {
  if (!(output.usage & GPUBufferUsage.STORAGE)) throw new InputError(`${what}: output buffer lacks STORAGE usage`);
  if (output.size < floats * 4) throw new InputError(`${what}: output buffer holds ${output.size} bytes, the shape needs ${floats * 4}`);
}

/** Params { out_size: vec2<u32>, pad: vec2<u32>, mean: vec4<f32>, std: vec4<f32> } (48 bytes). */
export function normalizeUniform(outWidth: number, outHeight: number, mean: Rgb, std: Rgb): ArrayBuffer {
  const bytes = new ArrayBuffer(48);
  new Uint32Array(bytes, 0, 2).set([outWidth, outHeight]);
  new Float32Array(bytes, 16, 8).set([...mean, 0, ...std, 1]);
  return bytes;
}

/** A bilinear kernel's full WGSL: the shared filters (shaders/bilinear_filters.wgsl), then the kernel. */
export function withBilinearFilters(kernelSource: string): string {
  return `${bilinearFilters}\n${kernelSource}`;
}

/** The kernel's pipeline per mode (MODE override), compiled once per device through the cache. */
export async function createModePipelines(
  device: GPUDevice,
  label: string,
  kernelSource: string,
  layout: GPUBindGroupLayout,
): Promise<Map<BilinearMode, GPUComputePipeline>> {
  const module = getShaderModule(device, label, withBilinearFilters(kernelSource));
  const pipelineFor = (mode: BilinearMode) =>
    getComputePipeline(device, `${label}:${mode}`, () => ({
      label: `${label}:${mode}`,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main', constants: { MODE: BILINEAR_MODES.indexOf(mode) } },
    }));
  return new Map(await Promise.all(BILINEAR_MODES.map(async (mode) => [mode, await pipelineFor(mode)] as const)));
}
