/**
 * The size of onnxruntime-web's WebAssembly memory in this worker. ORT keeps its Emscripten module
 * private, but its threaded build creates the memory in JS (`new WebAssembly.Memory`, at the first
 * session); the worker is ours alone, so we note every memory constructed here. A Proxy keeps
 * `instanceof WebAssembly.Memory` and the constructor's behaviour unchanged.
 */

export interface WasmMemoryProbe {
  /** Bytes of every WebAssembly.Memory created since install (ORT's heap); undefined when none was. */
  bytes(): number | undefined;
}

export function installWasmMemoryProbe(scope: { WebAssembly: typeof WebAssembly }): WasmMemoryProbe {
  const memories: WeakRef<WebAssembly.Memory>[] = [];
  const NativeMemory = scope.WebAssembly.Memory;
  scope.WebAssembly.Memory = new Proxy(NativeMemory, {
    construct(target, args: [WebAssembly.MemoryDescriptor], newTarget: typeof WebAssembly.Memory) {
      const memory = Reflect.construct(target, args, newTarget === scope.WebAssembly.Memory ? target : newTarget) as WebAssembly.Memory;
      memories.push(new WeakRef(memory));
      return memory;
    },
  });
  return {
    bytes() {
      let total: number | undefined;
      for (const ref of memories) {
        const memory = ref.deref();
        if (memory !== undefined) total = (total ?? 0) + memory.buffer.byteLength;
      }
      return total;
    },
  };
}
