import type { Plugin } from 'vite';
export const ORT_WASM_FILE: string;
export function ortVersion(): string;
export function ortWasmExternal(locate: string): Plugin;
export function besideWebdetr(): string;
