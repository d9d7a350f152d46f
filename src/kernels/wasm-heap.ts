/**
 * What the WebAssembly kernels (ms-deform-attn-wasm.ts, ms-deform-attn-rt-wasm.ts) share: their modules
 * ship as base64 text, and each call lays its float32 operands out from the heap base.
 */

/** The bytes of a module committed as base64 (src/kernels/*-wasm-binary.ts). */
export function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Lays out operands of the given lengths (4-byte values) from the heap base, each 16-byte aligned, growing
 * the memory to fit; returns their byte offsets. Every call starts again at the heap base: the kernels keep
 * nothing between calls.
 */
export function heapPlacer(memory: WebAssembly.Memory, heapBase: number): (lengths: readonly number[]) => number[] {
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
