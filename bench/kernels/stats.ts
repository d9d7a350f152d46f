/** Order statistics of timing samples (linear interpolation between ranks). */
export interface Summary {
  count: number;
  median: number;
  q1: number;
  q3: number;
  iqr: number;
  min: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  const a = sorted[low] ?? Number.NaN;
  const b = sorted[high] ?? Number.NaN;
  return a + (b - a) * (at - low);
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  return {
    count: sorted.length,
    median: quantile(sorted, 0.5),
    q1,
    q3,
    iqr: q3 - q1,
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export interface RepeatOptions {
  warmup: number;
  minIterations: number;
  maxIterations: number;
  /** Stop adding iterations (beyond minIterations) once this much wall time was spent. */
  budgetMs: number;
}

/** Runs `once` warmup + N times; returns what each timed call returned. */
export async function repeat<T>(once: () => Promise<T>, options: RepeatOptions): Promise<T[]> {
  for (let i = 0; i < options.warmup; i++) await once();
  const results: T[] = [];
  const started = performance.now();
  // minIterations = maxIterations = 0: no timed iterations at all.
  while (
    results.length < options.minIterations ||
    (results.length < options.maxIterations && performance.now() - started < options.budgetMs)
  ) {
    results.push(await once());
  }
  return results;
}
