export const CLANG_FLAGS: readonly string[];
export function sourceDigest(source: Uint8Array | string): string;
export function compileWasm(sourcePath: string): Uint8Array<ArrayBuffer>;
export function moduleText(sourceName: string, source: Uint8Array | string, wasm: Uint8Array): string;
