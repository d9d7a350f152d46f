/**
 * The model input size of a picture under the package's size policy, and the level shapes of a
 * deformable-attention stage for a run. Same rules as tools/webdetr_tools/export/size_policy.py.
 */
import { InputError } from '../errors.js';
import type { LevelRule, Manifest, MsDeformAttnStage, SizePolicy } from './manifest.js';

export interface InputSize {
  height: number;
  width: number;
}

/**
 * The official get_size_with_aspect_ratio (Deformable-DETR datasets/transforms.py): the shorter side becomes
 * `shortest` unless the longer would then exceed `longest`, in which case the shorter side becomes
 * round(longest * shorter / longer) (Python's round: ties to even); the longer side is int(s * longer / shorter),
 * truncated (so it may be longest + 1 for some ratios, as in the official code). A picture whose shorter
 * side already equals that size keeps its size. longerSide 'unrounded' is recent transformers' variant: when
 * `longest` caps the size, the longer side comes from the unrounded shorter size (never above `longest`).
 */
export function shorterSideSize(
  width: number,
  height: number,
  shortest: number,
  longest: number,
  longerSide: 'official' | 'unrounded' = 'official',
): InputSize {
  let size = shortest;
  let raw: number | null = null;
  const small = Math.min(width, height);
  const large = Math.max(width, height);
  if ((large / small) * size > longest) {
    raw = (longest * small) / large;
    size = roundHalfEven(raw);
  }
  if ((width <= height && width === size) || (height <= width && height === size)) return { height, width };
  const from = longerSide === 'unrounded' && raw !== null ? raw : size;
  if (width < height) return { width: size, height: Math.trunc((from * height) / width) };
  return { width: Math.trunc((from * width) / height), height: size };
}

function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The model input size for a width x height picture: fixed packages' own size, else the shorter-side rule. */
export function inputSizeFor(policy: SizePolicy, width: number, height: number): InputSize {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InputError(`the picture size must be positive integers, got ${width}x${height}`);
  }
  if (policy.kind === 'fixed') return { height: policy.height, width: policy.width };
  const size = shorterSideSize(width, height, policy.shortest, policy.longest, policy.longerSide);
  if (size.width < 1 || size.height < 1) {
    throw new InputError(
      `a ${width}x${height} picture is too elongated for this model (shorter side ${policy.shortest}, ` +
        `longer <= ${policy.longest}): it would resize to ${size.width}x${size.height}`,
    );
  }
  return size;
}

/**
 * The model input size of a picture for this package, and a clear error where the model cannot run it: a
 * two-stage model picks its `numQueries` queries among the encoder's tokens, so a picture whose resized
 * size has fewer tokens (a small shorter side, an elongated picture) would fail inside onnxruntime's TopK
 * (as the official code fails).
 */
export function modelInputSize(manifest: Manifest, width: number, height: number): InputSize {
  const size = inputSizeFor(manifest.input.sizePolicy, width, height);
  const { levelStrides, numQueries } = manifest.architecture;
  if (manifest.input.sizePolicy.kind !== 'fixed' && manifest.model.variant === 'two-stage' && levelStrides !== undefined) {
    const tokens = levelsOfRule({ from: 'image', strides: levelStrides }, [size.height, size.width]).reduce(
      (sum, [h, w]) => sum + h * w,
      0,
    );
    if (tokens < numQueries) {
      throw new InputError(
        `a ${width}x${height} picture resizes to ${size.width}x${size.height}, which gives this two-stage model ` +
          `${tokens} encoder tokens to pick its ${numQueries} queries from; it needs at least ${numQueries} ` +
          '(a larger shorter side in the export, or a less elongated picture)',
      );
    }
  }
  return size;
}

/** A fixed-size package's input size (what zoom windows and query-patch packages need); InputError otherwise. */
export function fixedInputSize(policy: SizePolicy, what: string): InputSize {
  if (policy.kind !== 'fixed')
    throw new InputError(`${what} needs a fixed-size package; this one resizes its shorter side to ${policy.shortest}`);
  return { height: policy.height, width: policy.width };
}

/** Level shapes of a rule for a source tensor's dims [.., H, W]: ceil(H / stride) x ceil(W / stride). */
export function levelsOfRule(rule: LevelRule, dims: readonly number[]): [number, number][] {
  const height = dims[dims.length - 2];
  const width = dims[dims.length - 1];
  if (height === undefined || width === undefined) throw new InputError(`levels from ${rule.from}: it has dims [${dims.join(', ')}]`);
  return rule.strides.map((stride) => [Math.ceil(height / stride), Math.ceil(width / stride)]);
}

/** A stage's level shapes for this run; `dimsOf` gives a live tensor's dims (rules read the image's). */
export function stageLevels(stage: MsDeformAttnStage, dimsOf: (name: string) => readonly number[]): [number, number][] {
  return Array.isArray(stage.levels) ? stage.levels : levelsOfRule(stage.levels, dimsOf(stage.levels.from));
}
