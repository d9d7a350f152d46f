/**
 * onnxruntime-web's WebGPU EP (JSEP, 1.30) on the device our kernels share. ORT ignores a preset
 * device: it creates its own from `ort.env.webgpu.adapter` at the first WebGPU session, once per JS
 * context (page or worker), and exposes it as `ort.env.webgpu.device`. So we hand ORT the adapter
 * (its requestDevice wrapped to add 'timestamp-query', which ORT skips when the adapter also has the
 * chromium inside-passes variant), create the sessions, then take ORT's device. A second runner in
 * the same context reuses that device; after the device is lost ORT cannot make a new one, so the
 * context (worker) must be replaced.
 */
import * as ort from 'onnxruntime-web';
import { ModelIntegrityError, WebGpuUnavailableError } from '../errors.js';
import type { Manifest } from '../package/manifest.js';

export interface OrtWebGpuSessions {
  sessions: Map<string, ort.InferenceSession>;
  device: GPUDevice;
  adapter: GPUAdapter;
}

/** ORT's device when its WebGPU EP is already initialized in this context. */
function initializedDevice(): GPUDevice | undefined {
  const descriptor = Object.getOwnPropertyDescriptor(ort.env.webgpu, 'device');
  const value: unknown = descriptor?.value;
  return typeof value === 'object' && value !== null && 'queue' in value ? (value as GPUDevice) : undefined;
}

function addTimestampQuery(adapter: GPUAdapter): GPUAdapter {
  if (!adapter.features.has('timestamp-query')) return adapter;
  const requestDevice = adapter.requestDevice.bind(adapter);
  adapter.requestDevice = (descriptor?: GPUDeviceDescriptor) => {
    const features = new Set<GPUFeatureName>(descriptor?.requiredFeatures ?? []);
    features.add('timestamp-query');
    return requestDevice({ ...descriptor, requiredFeatures: [...features] });
  };
  return adapter;
}

async function chooseAdapter(requested: GPUAdapter | undefined): Promise<GPUAdapter> {
  // ORT's device is fixed for the context once created: later runners share it whatever adapter they
  // were given (the returned adapter is the one really in use).
  if (initializedDevice() !== undefined) return ort.env.webgpu.adapter as GPUAdapter;
  let adapter = requested;
  if (adapter === undefined) {
    if (typeof navigator === 'undefined' || navigator.gpu === undefined)
      throw new WebGpuUnavailableError('WebGPU is not available here (navigator.gpu is undefined).');
    adapter = (await navigator.gpu.requestAdapter()) ?? undefined;
    if (adapter === undefined) throw new WebGpuUnavailableError('navigator.gpu.requestAdapter() returned null.');
  }
  ort.env.webgpu.adapter = addTimestampQuery(adapter);
  return adapter;
}

/**
 * Whether onnxruntime's CPU (wasm) EP can load these bytes. Asked only after the WebGPU EP refused a
 * graph, to tell a broken package (ModelIntegrityError) from a WebGPU failure by evidence rather than
 * by ORT's message wording; the probe session is released at once.
 */
async function loadsOnCpu(bytes: Uint8Array): Promise<boolean> {
  try {
    const probe = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    await probe.release();
    return true;
  } catch {
    return false;
  }
}

export type GraphBytes = [name: string, bytes: Uint8Array, file?: string];

/**
 * One WebGPU session per graph (outputs stay on the GPU), and the device they run on. A graph that
 * no EP can load rejects with ModelIntegrityError('invalid-graph'); every session made before it is
 * released.
 */
export async function createOrtWebGpuSessions(
  graphs: ReadonlyArray<GraphBytes>,
  requestedAdapter?: GPUAdapter,
  layoutOf: (graphName: string) => WebGpuLayout = () => 'NHWC',
): Promise<OrtWebGpuSessions> {
  const adapter = await chooseAdapter(requestedAdapter);
  const sessions = new Map<string, ort.InferenceSession>();
  try {
    for (const [name, bytes, file = name] of graphs) {
      // Sequential on purpose: JSEP does not support concurrent session creation.
      const session = await createWebGpuSession(bytes, layoutOf(name)).catch(async (cause: unknown) => {
        if (await loadsOnCpu(bytes)) throw cause;
        throw new ModelIntegrityError(
          file,
          'invalid-graph',
          `${file}: onnxruntime cannot load this graph (${String(cause)}); the package is broken`,
        );
      });
      sessions.set(name, session);
    }
    const device = initializedDevice() ?? (graphs.length > 0 ? await ort.env.webgpu.device : undefined);
    if (device === undefined)
      throw new WebGpuUnavailableError(
        "onnxruntime-web's WebGPU EP has no device (no graph sessions were created, or the device was lost)",
      );
    return { sessions, device, adapter };
  } catch (error) {
    for (const session of sessions.values()) await session.release();
    if (error instanceof ModelIntegrityError) throw error;
    if (initializedDevice() === undefined && !(error instanceof WebGpuUnavailableError)) {
      throw new WebGpuUnavailableError(`onnxruntime-web could not start its WebGPU EP: ${String(error)}`, { cause: error });
    }
    throw error;
  }
}

/** onnxruntime-web's WebGPU EP layout for Conv and the other layout-sensitive ops. */
export type WebGpuLayout = 'NCHW' | 'NHWC';

/**
 * The faster layout for a package's graph, measured side by side on SwiftShader (CPU emulation;
 * bench/run-session-choices.mjs, bench/MODELS.md "Session choices", 2026-11-23). ORT's default is
 * NHWC: it wraps our NCHW graph's convolutions in Transposes and runs ReduceMean etc. in NHWC. The
 * CenterNet MobileNetV3 backbone (depthwise and 1x1 convs, squeeze-excite) pays more for those than it
 * gains: the shipped detector's encoder_input warm median 53.9 s NHWC -> 28.3 s NCHW (second run
 * 42.7 -> 31.2 s; warm-run Transpose GPU time 20.1 s -> 1.6 s, ReduceMean 6.6 -> 0.6 s). ResNet-50's
 * convs run faster in NHWC: encoder_input at 64x96 28.5 vs 48.1 s (second run 6.7 vs 11.3 s).
 * Outputs are bit-identical; graphs without Conv do not change beyond noise. The detector v2b's
 * "centernet-mobilenetv3-neck" (the same backbone plus its neck and peak decode) gains too: encoder_input
 * warm median 18.0 s NHWC -> 14.5 s NCHW, first run 60.1 -> 26.5 s (2026-12-07, bench/results/
 * 2026-12-07-google-swiftshader-session-choices-detector-v2b.json). Graphs with a symbolic input dim stay
 * NHWC: in NCHW, ORT 1.30's ReduceMean fails on the one-shot patch backbone's dynamic patch count
 * ("Uniform variable 3 mismatch" in program "ReduceMean").
 */
export function preferredLayoutFor(manifest: Manifest, graphName: string): WebGpuLayout {
  const graph = manifest.graphs.find((g) => g.name === graphName);
  const fixedInputs = graph?.inputs.every((name) => (manifest.tensors[name]?.shape ?? ['?']).every((d) => typeof d === 'number'));
  return CENTERNET_BACKBONES.has(manifest.architecture.backbone ?? '') && fixedInputs ? 'NCHW' : 'NHWC';
}

const CENTERNET_BACKBONES = new Set(['centernet-mobilenetv3', 'centernet-mobilenetv3-neck']);

/** The session options of every runtime WebGPU session (exported for bench/models/session-choices.ts). */
export function webGpuSessionOptions(layout: WebGpuLayout = 'NHWC'): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [{ name: 'webgpu', preferredLayout: layout }],
    preferredOutputLocation: 'gpu-buffer',
    graphOptimizationLevel: 'all',
    // ORT fuses MatMul + Add into Gemm, whose WebGPU kernel is untiled: measured 93% of a frame's
    // GPU time on SwiftShader (Gemm 157 s vs MatMul 12 s, R50 Deformable-DETR at 64x96).
    extra: { optimization: { disable_specified_optimizers: 'MatMulAddFusion' } },
  };
}

function createWebGpuSession(bytes: Uint8Array, layout: WebGpuLayout): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, webGpuSessionOptions(layout));
}
