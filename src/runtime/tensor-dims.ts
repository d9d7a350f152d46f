/**
 * Symbolic manifest dimensions ("patches", "patches*10", "a + 1"): bound from the pipeline's input
 * tensors at run time, then used to size the outputs before a graph runs. The grammar is the
 * manifest schema's: sums of products of symbols and integers.
 */
import { InputError } from '../errors.js';
import type { Dim } from '../package/manifest.js';

const SYMBOL = /^[a-z][A-Za-z0-9]*$/;

/** Whether a dim is one plain symbol ("patches"), the kind a pipeline input binds. */
export function isPlainSymbol(dim: Dim): dim is string {
  return typeof dim === 'string' && SYMBOL.test(dim.trim());
}

/** Checks `dims` against the declared `shape` and binds its plain symbols into `symbols`. */
export function bindDims(name: string, shape: readonly Dim[], dims: readonly number[], symbols: Map<string, number>): void {
  if (shape.length !== dims.length) {
    throw new InputError(`${name}: expected ${shape.length} dims [${shape.join(', ')}], got [${dims.join(', ')}]`);
  }
  shape.forEach((declared, axis) => {
    const actual = dims[axis] ?? Number.NaN;
    if (!Number.isInteger(actual) || actual < 0) throw new InputError(`${name}: dim ${axis} is ${actual}`);
    if (typeof declared === 'number') {
      if (declared !== actual) throw new InputError(`${name}: dim ${axis} must be ${declared}, got ${actual}`);
    } else if (SYMBOL.test(declared.trim())) {
      symbols.set(declared.trim(), actual);
    } else {
      const expected = evaluateDim(declared, symbols);
      if (expected !== undefined && expected !== actual)
        throw new InputError(`${name}: dim ${axis} (${declared}) must be ${expected}, got ${actual}`);
    }
  });
}

/**
 * Binds the plain symbols of a graph output's declared `shape` that are not bound yet (a shorter-side
 * package's "tokens", known once its first graph ran); already-bound symbols and fixed dims are left
 * as they are (the kernels check their operands' sizes).
 */
export function bindOutputSymbols(shape: readonly Dim[], dims: readonly number[], symbols: Map<string, number>): void {
  if (shape.length !== dims.length) return;
  shape.forEach((declared, axis) => {
    const actual = dims[axis];
    if (isPlainSymbol(declared) && actual !== undefined && !symbols.has(declared.trim())) symbols.set(declared.trim(), actual);
  });
}

/** The concrete dims of `shape`, or undefined when a symbol is unbound or the expression unknown. */
export function resolveDims(shape: readonly Dim[], symbols: ReadonlyMap<string, number>): number[] | undefined {
  const dims: number[] = [];
  for (const dim of shape) {
    const value = typeof dim === 'number' ? dim : evaluateDim(dim, symbols);
    if (value === undefined) return undefined;
    dims.push(value);
  }
  return dims;
}

/** One dim resolved from `symbols`; `what` names it in the InputError thrown when a symbol is unbound. */
export function resolveDim(dim: Dim, symbols: ReadonlyMap<string, number>, what: string): number {
  const value = typeof dim === 'number' ? dim : evaluateDim(dim, symbols);
  if (value === undefined) {
    const bound = [...symbols].map(([name, size]) => `${name}=${size}`).join(', ') || 'none';
    throw new InputError(`${what}: ${dim} cannot be resolved (bound symbols: ${bound})`);
  }
  return value;
}

function evaluateDim(expression: string, symbols: ReadonlyMap<string, number>): number | undefined {
  let sum = 0;
  for (const term of expression.split('+')) {
    let product = 1;
    for (const factor of term.split('*').map((f) => f.trim())) {
      if (/^[0-9]+$/.test(factor)) product *= Number(factor);
      else if (SYMBOL.test(factor) && symbols.has(factor)) product *= symbols.get(factor) ?? Number.NaN;
      else return undefined;
    }
    sum += product;
  }
  return sum;
}
