/**
 * Cross-image exemplars (issue 26): query patches described on one picture, as plain data that can be
 * stored and searched for in other pictures and video frames. A package's descriptors mean nothing to
 * another package (another backbone, another training run), and a changed number silently moves every
 * box, so each set carries the package's identity and a checksum, both checked before any graph runs:
 * a mismatch is an InputError, never boxes. The checksum catches corruption and edits, it is not a
 * signature (anyone can recompute it; docs/threat-model.md).
 */
import type { PatchDescriptors, QueryPatch } from '../api/types.js';
import { InputError } from '../errors.js';
import type { Manifest } from '../package/manifest.js';
import type { HostTensor } from '../runtime/runner.js';
import { sha256Hex } from '../package/fetch-verified.js';

export const DESCRIPTORS_FORMAT = 'webdetr-patch-descriptors-1';
/** The describe_patches pipeline's output, patches_from_descriptors' input (tools/webdetr_tools/ship/oneshot_package.py). */
export const DESCRIPTORS_TENSOR = 'patch_descriptors';

/**
 * The package's identity: sha256 over its family, variant and every graph's name and sha256 (sorted).
 * Two loads of the same package agree; a retrained or re-exported package does not.
 */
export async function packageIdentity(manifest: Manifest): Promise<string> {
  const graphs = [...manifest.graphs].map((g) => `${g.name}:${g.sha256}`).sort();
  const text = [manifest.model.family, manifest.model.variant, ...graphs].join('\n');
  return sha256Hex(new TextEncoder().encode(text));
}

/** The checksummed content: everything but the checksum itself, in a fixed order and byte layout. */
function checksumInput(d: Omit<PatchDescriptors, 'checksum'>): Uint8Array<ArrayBuffer> {
  const header = new TextEncoder().encode(
    JSON.stringify([
      d.format,
      d.model,
      d.width,
      d.imageSize.width,
      d.imageSize.height,
      d.patches.map((p) => [p.x, p.y, p.width, p.height]),
    ]),
  );
  const boxes = Float32Array.from(d.boxes);
  const values = Float32Array.from(d.descriptors);
  const bytes = new Uint8Array(header.byteLength + boxes.byteLength + values.byteLength);
  bytes.set(header, 0);
  bytes.set(new Uint8Array(boxes.buffer), header.byteLength);
  bytes.set(new Uint8Array(values.buffer), header.byteLength + boxes.byteLength);
  return bytes;
}

export async function sealDescriptors(d: Omit<PatchDescriptors, 'checksum'>): Promise<PatchDescriptors> {
  return { ...d, checksum: await sha256Hex(checksumInput(d)) };
}

export function isPatchDescriptors(value: unknown): value is PatchDescriptors {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && (value as { format?: unknown }).format !== undefined;
}

/** What a search needs from a checked set: [1, K, W] descriptors and [1, K, 4] relative boxes. */
export interface CheckedDescriptors {
  count: number;
  width: number;
  descriptors: Float32Array<ArrayBuffer>;
  boxes: Float32Array<ArrayBuffer>;
  patches: QueryPatch[];
}

/**
 * Checks a set against this package before it is used: its format, the package identity, the shapes,
 * finite values, the patch limit and the checksum. Accepts the arrays as Float32Array or as plain number
 * arrays (a set that went through JSON).
 */
export async function checkDescriptors(
  value: unknown,
  identity: string,
  expectedWidth: number | undefined,
  maxPatches: number,
): Promise<CheckedDescriptors> {
  const fail = (why: string): never => {
    throw new InputError(`patch descriptors rejected: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return fail('expected the object describePatches returned');
  const d = value as Partial<Record<keyof PatchDescriptors, unknown>>;
  if (d.format !== DESCRIPTORS_FORMAT) return fail(`unknown format ${JSON.stringify(d.format)} (this webdetr reads ${DESCRIPTORS_FORMAT})`);
  if (d.model !== identity)
    return fail(
      `they were described by another model (package ${String(d.model).slice(0, 12)}…, this one is ${identity.slice(0, 12)}…); ` +
        'describe the patches again with this model',
    );
  const numbers = (field: 'descriptors' | 'boxes'): Float32Array<ArrayBuffer> => {
    const raw = d[field];
    if (!(raw instanceof Float32Array) && !(Array.isArray(raw) && raw.every((v) => typeof v === 'number')))
      return fail(`${field} is not an array of numbers`);
    const array = Float32Array.from(raw as ArrayLike<number>);
    if (!array.every(Number.isFinite)) return fail(`${field} holds a non-finite number`);
    return array;
  };
  const patches = d.patches;
  if (!Array.isArray(patches) || patches.length === 0) return fail('no patches');
  const count = patches.length;
  if (count > maxPatches) return fail(`${count} patches; this model takes at most ${maxPatches} at once`);
  const width = d.width;
  if (typeof width !== 'number' || !Number.isInteger(width) || width < 1 || (expectedWidth !== undefined && width !== expectedWidth)) {
    return fail(`descriptor width ${String(width)} does not match this model's ${String(expectedWidth)}`);
  }
  const descriptors = numbers('descriptors');
  const boxes = numbers('boxes');
  if (descriptors.length !== count * width) return fail(`${descriptors.length} descriptor values for ${count} patches of ${width}`);
  if (boxes.length !== count * 4) return fail(`${boxes.length} box values for ${count} patches`);
  const imageSize = d.imageSize as { width?: unknown; height?: unknown } | undefined;
  if (typeof imageSize?.width !== 'number' || typeof imageSize.height !== 'number') return fail('no imageSize');
  const sealed = await sealDescriptors({
    format: DESCRIPTORS_FORMAT,
    model: identity,
    width,
    imageSize: { width: imageSize.width, height: imageSize.height },
    patches: patches as QueryPatch[],
    boxes,
    descriptors,
  });
  if (sealed.checksum !== d.checksum) return fail('the checksum does not match their content (changed or damaged since describePatches)');
  return { count, width, descriptors, boxes, patches: (patches as QueryPatch[]).map((p) => ({ ...p })) };
}

/** Several checked sets as one search (their patches in order); all have the package's width. */
export function concatDescriptors(parts: readonly CheckedDescriptors[]): CheckedDescriptors {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const width = parts[0]?.width ?? 0;
  const count = parts.reduce((n, p) => n + p.count, 0);
  const descriptors = new Float32Array(count * width);
  const boxes = new Float32Array(count * 4);
  let row = 0;
  for (const part of parts) {
    descriptors.set(part.descriptors, row * width);
    boxes.set(part.boxes, row * 4);
    row += part.count;
  }
  return { count, width, descriptors, boxes, patches: parts.flatMap((p) => p.patches) };
}

/** Checks every set (checkDescriptors) and joins them as one search within the model's patch limit. */
export async function checkDescriptorSets(
  sets: readonly PatchDescriptors[],
  identity: string,
  expectedWidth: number | undefined,
  maxPatches: number,
): Promise<CheckedDescriptors> {
  const parts: CheckedDescriptors[] = [];
  for (const set of sets) parts.push(await checkDescriptors(set, identity, expectedWidth, maxPatches));
  const checked = concatDescriptors(parts);
  if (checked.count > maxPatches)
    throw new InputError(`${checked.count} patches in these descriptor sets; this model takes at most ${maxPatches} at once`);
  return checked;
}

/**
 * The patches_from_descriptors pipeline's inputs (`inputNames`) for a checked search: the descriptors
 * [1, K, W] and their boxes [1, K, 4]; any other input it declares gets an empty tensor.
 */
export function descriptorInputs(inputNames: readonly string[], checked: CheckedDescriptors): Record<string, HostTensor> {
  const known: Record<string, HostTensor> = {
    [DESCRIPTORS_TENSOR]: { data: checked.descriptors, dims: [1, checked.count, checked.width] },
    patches: { data: checked.boxes, dims: [1, checked.count, 4] },
  };
  return Object.fromEntries(inputNames.map((name) => [name, known[name] ?? { data: new Float32Array(0), dims: [0] }]));
}
