/**
 * ORT WebGPU session choices, side by side on one page and device: per graph of a split package,
 * the same graph bytes in one session per choice (the runtime's options from src/runtime/ort-webgpu.ts,
 * then preferredLayout / graph capture on top), the same GPU input buffers, interleaved rounds.
 * Per (choice, graph): a first run (shader compilation; outputs read back and compared with the
 * first choice), a warm run with ORT's per-op GPU profile (per op type, and the slowest nodes with
 * their input shapes), then timed runs. Driven by bench/run-session-choices.mjs.
 *
 * Inputs: the image for the first graph; later graphs get the first graph's outputs where names
 * match, and for the attention-core tensors (made by our WGSL kernel in the runtime) the first
 * earlier value of the same size as a stand-in (e.g. enc_src_0 for enc_core_0), else a fixed synthetic
 * 0-255 pattern (the one-shot `patches`). Symbolic dims (the patch count) take `spec.symbols`. Timing
 * does not depend on values; the check compares choices on identical inputs.
 * A choice with its own `packageUrl` runs that package's graph of the same name: an export change
 * (e.g. another op form) side by side with the current one.
 */
import * as ort from 'onnxruntime-web';
import { parseManifest, type Manifest } from '../../src/package/manifest.js';
import { preferredLayoutFor, webGpuSessionOptions } from '../../src/runtime/ort-webgpu.js';
import { resolveDims } from '../../src/runtime/tensor-dims.js';
import { readFloat32 } from '../../src/gpu/buffers.js';
import { summarize, type Summary } from '../kernels/stats.js';
import { init } from './main.js';
import { imageTensor, loadImageBlob } from './model-input.js';

export interface Choice {
  name: string;
  preferredLayout?: 'NCHW' | 'NHWC';
  enableGraphCapture?: boolean;
  /** Another package whose graph of the same name this choice runs (default: the spec's package). */
  packageUrl?: string;
}

export interface ChoicesSpec {
  packageUrl: string;
  image: string;
  graphs: string[];
  choices: Choice[];
  rounds: number;
  /** Values of the package's symbolic dims, e.g. { patches: 10 }. */
  symbols?: Record<string, number>;
}

/** One graph node's GPU time in the profiled run, with the shapes it was given (ORT's own node name). */
interface NodeTime {
  node: string;
  op: string;
  inputs: string;
  ms: number;
}

/** How many of a graph's slowest nodes the result keeps. */
const TOP_NODES = 15;

interface Prepared {
  session: ort.InferenceSession;
  /** This package's inputs only: an --other-package graph may take fewer than the package's own. */
  feeds: Record<string, ort.Tensor>;
  outputs: Record<string, ort.Tensor>;
}

const log = (line: string) => console.log(`[bench] ${line}`);
const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

let symbols: ReadonlyMap<string, number> = new Map();

function fixedDims(manifest: Manifest, name: string): number[] {
  const dims = resolveDims(manifest.tensors[name]?.shape ?? [], symbols);
  if (dims === undefined) throw new Error(`${name}: no fixed shape (give its symbols)`);
  return dims;
}

/** Deterministic 0-255 values for an input no earlier graph made. */
function synthetic(length: number): Float32Array<ArrayBuffer> {
  return Float32Array.from({ length }, (_, i) => (i * 37) % 255);
}

function gpuTensor(device: GPUDevice, dims: number[], data?: Float32Array<ArrayBuffer>): ort.Tensor {
  const buffer = device.createBuffer({
    label: 'bench:session-choices',
    size: count(dims) * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  if (data !== undefined) device.queue.writeBuffer(buffer, 0, data);
  return ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

/** Host values for a graph's inputs: earlier graphs' outputs by name, else a same-sized stand-in. */
function hostInputs(
  manifest: Manifest,
  graph: string,
  known: Map<string, Float32Array<ArrayBuffer>>,
): Record<string, Float32Array<ArrayBuffer>> {
  const entry = manifest.graphs.find((g) => g.name === graph);
  if (entry === undefined) throw new Error(`no graph ${graph}`);
  return Object.fromEntries(
    entry.inputs.map((name) => {
      const length = count(fixedDims(manifest, name));
      return [name, known.get(name) ?? [...known.values()].find((v) => v.length === length) ?? synthetic(length)];
    }),
  );
}

export async function runChoices(spec: ChoicesSpec) {
  const device = await ort.env.webgpu.device;
  symbols = new Map(Object.entries(spec.symbols ?? {}));
  const manifest = parseManifest(await (await fetch(`${spec.packageUrl}/manifest.json`)).json());
  const [, , height, width] = fixedDims(manifest, 'image');
  const known = new Map<string, Float32Array<ArrayBuffer>>([
    ['image', await imageTensor(await loadImageBlob(spec.image), height as number, width as number)],
  ]);
  const prepared = new Map<string, Prepared>();
  const key = (choice: Choice, graph: string) => `${choice.name}|${graph}`;
  const failed: Record<string, string> = {};
  const firstRunMs: Record<string, Record<string, number>> = {};
  const ortOpGpuMs: Record<string, Record<string, Record<string, number>>> = {};
  const ortNodeGpuMs: Record<string, Record<string, NodeTime[]>> = {};
  const maxAbsDiffVsFirst: Record<string, Record<string, number>> = {};

  for (const graph of spec.graphs) {
    const entry = manifest.graphs.find((g) => g.name === graph);
    if (entry === undefined) throw new Error(`no graph ${graph}`);
    const bytesOf = new Map<string, Uint8Array>();
    const graphBytes = async (packageUrl: string) => {
      let bytes = bytesOf.get(packageUrl);
      if (bytes === undefined) {
        const other = packageUrl === spec.packageUrl ? manifest : parseManifest(await (await fetch(`${packageUrl}/manifest.json`)).json());
        const file = other.graphs.find((g) => g.name === graph)?.file;
        if (file === undefined) throw new Error(`${packageUrl}: no graph ${graph}`);
        bytes = new Uint8Array(await (await fetch(`${packageUrl}/${file}`)).arrayBuffer());
        bytesOf.set(packageUrl, bytes);
      }
      return bytes;
    };
    const host = hostInputs(manifest, graph, known);
    const feeds = Object.fromEntries(
      Object.entries(host).map(([name, data]) => [name, gpuTensor(device, fixedDims(manifest, name), data)]),
    );
    let reference: Record<string, Float32Array<ArrayBuffer>> | undefined;
    for (const choice of spec.choices) {
      try {
        // 'current' (no layout named): the runtime's options for this package.
        const layout = choice.preferredLayout ?? preferredLayoutFor(manifest, graph);
        const session = await ort.InferenceSession.create(await graphBytes(choice.packageUrl ?? spec.packageUrl), {
          ...webGpuSessionOptions(layout),
          ...(choice.enableGraphCapture === true ? { enableGraphCapture: true } : {}),
        });
        const outputs = Object.fromEntries(entry.outputs.map((name) => [name, gpuTensor(device, fixedDims(manifest, name))]));
        const ownFeeds = Object.fromEntries(Object.entries(feeds).filter(([name]) => session.inputNames.includes(name)));
        prepared.set(key(choice, graph), { session, feeds: ownFeeds, outputs });
        // First run: compiles shaders (and NHWC weight transposes), so it is timed apart and not profiled.
        const t0 = performance.now();
        await session.run(ownFeeds, outputs);
        await device.queue.onSubmittedWorkDone();
        (firstRunMs[choice.name] ??= {})[graph] = performance.now() - t0;
        // Second run, untimed: ORT's per-op GPU profile of a warm run.
        const perOp: Record<string, number> = {};
        const perNode = new Map<string, NodeTime>();
        ort.env.webgpu.profiling = {
          mode: 'default',
          ondata: (d) => {
            const ms = (d.endTime - d.startTime) / 1e6;
            perOp[d.kernelType] = (perOp[d.kernelType] ?? 0) + ms;
            // One node may run several programs (e.g. a MatMul's pack + multiply): summed per node.
            const inputs = d.inputsMetadata.map((t) => `[${t.dims.join(',')}]`).join(' ');
            const node = perNode.get(d.kernelName) ?? { node: d.kernelName, op: d.kernelType, inputs, ms: 0 };
            node.ms += ms;
            perNode.set(d.kernelName, node);
          },
        };
        try {
          await session.run(ownFeeds, outputs);
          await device.queue.onSubmittedWorkDone();
        } finally {
          ort.env.webgpu.profiling = { mode: 'off' };
        }
        // Profiling timestamps arrive through mapAsync after the work.
        await new Promise((resolve) => setTimeout(resolve, 500));
        (ortOpGpuMs[choice.name] ??= {})[graph] = perOp;
        (ortNodeGpuMs[choice.name] ??= {})[graph] = [...perNode.values()].sort((a, b) => b.ms - a.ms).slice(0, TOP_NODES);
        const values: Record<string, Float32Array<ArrayBuffer>> = {};
        for (const [name, tensor] of Object.entries(outputs))
          values[name] = (await readFloat32(device, tensor.gpuBuffer as GPUBuffer, count(tensor.dims))) as Float32Array<ArrayBuffer>;
        if (reference === undefined) {
          reference = values;
          for (const [name, value] of Object.entries(values)) known.set(name, value);
        } else {
          (maxAbsDiffVsFirst[choice.name] ??= {})[graph] = Math.max(
            ...Object.entries(values).map(([name, v]) => maxAbsDiff(v, reference?.[name] ?? new Float32Array())),
          );
        }
        log(
          `${graph} ${choice.name}: first run ${(firstRunMs[choice.name]?.[graph] ?? 0).toFixed(0)} ms; diff ${maxAbsDiffVsFirst[choice.name]?.[graph] ?? 0}`,
        );
      } catch (error) {
        failed[key(choice, graph)] = String(error);
        prepared
          .get(key(choice, graph))
          ?.session.release()
          .catch(() => undefined);
        prepared.delete(key(choice, graph));
        log(`${choice.name} ${graph} failed: ${String(error)}`);
      }
    }
  }

  // Timed rounds, interleaved: round r starts at choice r (mod n) so no choice always runs first.
  const runs: Record<string, Record<string, number[]>> = {};
  const live = spec.choices;
  for (let round = 0; round < spec.rounds; round++) {
    for (let i = 0; i < live.length; i++) {
      const choice = live[(round + i) % live.length] as Choice;
      for (const graph of spec.graphs) {
        const p = prepared.get(key(choice, graph));
        if (p === undefined) continue;
        const t0 = performance.now();
        await p.session.run(p.feeds, p.outputs);
        await device.queue.onSubmittedWorkDone();
        const ms = performance.now() - t0;
        ((runs[choice.name] ??= {})[graph] ??= []).push(ms);
        log(`round ${round} ${choice.name} ${graph}: ${ms.toFixed(0)} ms`);
      }
    }
  }
  for (const p of prepared.values()) await p.session.release();
  const medianMs: Record<string, Record<string, Summary>> = Object.fromEntries(
    Object.entries(runs).map(([c, g]) => [c, Object.fromEntries(Object.entries(g).map(([n, v]) => [n, summarize(v)]))]),
  );
  return { spec, runsMs: runs, medianMs, firstRunMs, maxAbsDiffVsFirst, ortOpGpuMs, ortNodeGpuMs, failed };
}

declare global {
  interface Window {
    webdetrSessionChoices?: { init: typeof init; runChoices: typeof runChoices };
  }
}
window.webdetrSessionChoices = { init, runChoices };
