/**
 * What the WebAssembly kernels (ms-deform-attn-wasm.ts, ms-deform-attn-rt-wasm.ts) share: their modules
 * ship as base64 text, compiled once per realm and instantiated with their own memory per caller, and each
 * call lays its operands out from the heap base, runs, and copies its output out.
 */
import { InputError } from '../errors.js';

type Floats = Float32Array | Float64Array;

/** What every kernel module exports besides its entry points. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
}

/** The bytes of a module committed as base64 (src/kernels/*-wasm-binary.ts). */
export function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A module compiled on first use, once per realm; each call of the result is one instance (own memory). */
export function kernelModule<E extends KernelExports>(base64: string): () => Promise<E> {
  let compiled: Promise<WebAssembly.Module> | undefined;
  return async () => {
    compiled ??= WebAssembly.compile(base64Bytes(base64));
    const instance = await WebAssembly.instantiate(await compiled, {});
    return instance.exports as unknown as E;
  };
}

/**
 * Lays out operands of the given lengths (4-byte values) from the heap base, each 16-byte aligned, growing
 * the memory to fit; returns their byte offsets. Every call starts again at the heap base: the kernels keep
 * nothing between calls.
 */
function heapPlacer(memory: WebAssembly.Memory, heapBase: number): (lengths: readonly number[]) => number[] {
  return (lengths) => {
    const offsets: number[] = [];
    let end = heapBase;
    for (const length of lengths) {
      end = Math.ceil(end / 16) * 16;
      offsets.push(end);
      end += 4 * length;
    }
    const missing = end - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / 65536));
    return offsets;
  };
}

/**
 * One kernel call on an instance: `table` (int32 level records) and the float32 `inputs` are laid out from
 * the heap base, `call` gets the operand pointers (the inputs', then the output's, in the order the C entry
 * points take them) and the table's and returns the kernel's status (non-zero: it refused the shape), and the
 * output comes back as a copy.
 */
export type HeapCall = (
  table: readonly number[],
  inputs: readonly Floats[],
  outputLength: number,
  call: (pointers: number[], table: number) => number,
) => Float32Array;

/** `what` names the kernel in errors, e.g. 'msDeformAttn (wasm)'. */
export function heapCaller(exports: KernelExports, what: string): HeapCall {
  const { memory } = exports;
  const place = heapPlacer(memory, Number(exports.__heap_base.value));
  return (table, inputs, outputLength, call) => {
    const offsets = place([table.length, ...inputs.map((a) => a.length), outputLength]);
    new Int32Array(memory.buffer, offsets[0]!, table.length).set(table);
    inputs.forEach((array, i) => {
      new Float32Array(memory.buffer, offsets[i + 1]!, array.length).set(array);
    });
    if (call(offsets.slice(1), offsets[0]!) !== 0) throw new InputError(`${what}: the kernel refused the shape`);
    return new Float32Array(memory.buffer, offsets[inputs.length + 1]!, outputLength).slice();
  };
}

/** An operand of the wrong length is an InputError naming it. */
export function checkLength(what: string, name: string, array: Floats, expected: number): void {
  if (array.length !== expected) throw new InputError(`${what}: ${name} has ${array.length} values, expected ${expected}`);
}
