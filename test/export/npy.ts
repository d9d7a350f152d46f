import { readFileSync } from 'node:fs';

/** Minimal .npy reader for little-endian float32 C-order arrays (what the reference outputs are). */
export function readNpyFloat32(path: string): { data: Float32Array; shape: number[] } {
  const bytes = readFileSync(path);
  if (bytes.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = bytes[6] ?? 1;
  const headerLength = major >= 2 ? bytes.readUInt32LE(8) : bytes.readUInt16LE(8);
  const start = (major >= 2 ? 12 : 10) + headerLength;
  const header = bytes.toString('latin1', major >= 2 ? 12 : 10, start);
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) {
    throw new Error(`${path}: expected C-order <f4, header ${header}`);
  }
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number);
  const copy = bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length);
  return { data: new Float32Array(copy), shape };
}

export function readFloat32File(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
  return max;
}
