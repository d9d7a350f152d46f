/**
 * Client-side re-filtering: the model runs once with threshold 0; the slider and the class filter
 * only select from that raw result, so they update instantly without another model run.
 */
import type { Detection, PatchDetections } from '../api/types.js';

export interface FilterState {
  threshold: number;
  /** Class labels the user switched off. */
  hiddenClasses: ReadonlySet<string>;
}

export function visibleDetections(all: readonly Detection[], filter: FilterState): Detection[] {
  return all.filter((d) => d.score >= filter.threshold && !filter.hiddenClasses.has(d.label));
}

export function visiblePatchMatches(patches: readonly PatchDetections[], threshold: number): PatchDetections[] {
  return patches.map((p) => ({ ...p, detections: p.detections.filter((d) => d.score >= threshold) }));
}

export interface ClassCount {
  label: string;
  classId: number;
  /** Detections of this class at the current threshold (ignoring the class filter). */
  count: number;
  best: number;
}

/** Every class present in the raw result, most frequent at the current threshold first. */
export function classCounts(all: readonly Detection[], threshold: number): ClassCount[] {
  const byLabel = new Map<string, ClassCount>();
  for (const d of all) {
    const entry = byLabel.get(d.label) ?? { label: d.label, classId: d.classId, count: 0, best: 0 };
    if (d.score >= threshold) entry.count++;
    entry.best = Math.max(entry.best, d.score);
    byLabel.set(d.label, entry);
  }
  return [...byLabel.values()].sort((a, b) => b.count - a.count || b.best - a.best || a.label.localeCompare(b.label));
}
