/**
 * What to draw and list for the current state: the boxes on the overlay (drawn by
 * src/overlay/draw-boxes.ts) and the matching rows of the results list (entry.boxIndex points into
 * boxes).
 */
import type { Detection, DetectionResult, OneShotResult, QueryPatch } from '../api/types.js';
import { toStage, type Fit } from '../geometry/letterbox.js';
import { scoreLabel, type OverlayBox } from '../overlay/draw-boxes.js';
import { labelColor, patchColor } from '../overlay/palette.js';
import { contains } from '../overlay/rect.js';
import { visibleDetections, visiblePatchMatches, type FilterState } from './filter.js';
import type { ListEntry } from './results-list.js';

export interface Scene {
  boxes: OverlayBox[];
  entries: ListEntry[];
}

const percent = (score: number) => `${Math.round(score * 100)}%`;
const size = (d: Detection) => `${Math.round(d.box.width)}×${Math.round(d.box.height)} px`;

export function detectScene(result: DetectionResult | null, filter: FilterState): Scene {
  if (result === null) return { boxes: [], entries: [] };
  const shown = visibleDetections(result.detections, filter);
  const boxes = shown.map((d) => ({ box: d.box, color: labelColor(d.label), label: scoreLabel(d.label, d.score), score: d.score }));
  const entries = shown.map((d, i) => ({ boxIndex: i, color: labelColor(d.label), title: scoreLabel(d.label, d.score), detail: size(d) }));
  return { boxes, entries };
}

/** "3 similar", or with none above the threshold how close the best one came (a hint to lower it). */
function similarText(shown: number, all: readonly Detection[], threshold: number): string {
  if (shown > 0 || all.length === 0) return `${shown} similar`;
  return `none ≥ ${percent(threshold)}, best ${percent(Math.max(...all.map((d) => d.score)))}`;
}

export interface PatchState {
  patches: readonly QueryPatch[];
  selected: number | null;
  draft: QueryPatch | null;
}

/**
 * Matches are listed under the patch that asked for them. The result belongs to the patches it
 * was run with; patches moved since then are drawn where they are now, their old matches stay
 * until the new run returns.
 */
export function oneShotScene(state: PatchState, result: OneShotResult | null, threshold: number): Scene {
  const boxes: OverlayBox[] = [];
  const entries: ListEntry[] = [];
  const matches = result === null ? [] : visiblePatchMatches(result.patches, threshold);
  state.patches.forEach((patch, p) => {
    const color = patchColor(p);
    const patchIndex = boxes.push({ box: patch, color, label: `Patch ${p + 1}`, dashed: true, selected: state.selected === p }) - 1;
    const found = matches[p]?.detections ?? [];
    entries.push({
      boxIndex: patchIndex,
      color,
      heading: true,
      title: `Patch ${p + 1}`,
      detail:
        result === null || matches[p] === undefined
          ? 'not run yet'
          : similarText(found.length, result.patches[p]?.detections ?? [], threshold),
    });
    for (const d of found) {
      const index = boxes.push({ box: d.box, color, label: `P${p + 1} ${percent(d.score)}`, score: d.score }) - 1;
      entries.push({ boxIndex: index, color, title: `like patch ${p + 1}: ${percent(d.score)}`, detail: size(d) });
    }
  });
  if (state.draft !== null)
    boxes.push({ box: state.draft, color: patchColor(state.patches.length), label: `Patch ${state.patches.length + 1}`, dashed: true });
  return { boxes, entries };
}

/** Index of the smallest box under a stage point (smallest wins: nested boxes stay reachable). */
export function boxAt(boxes: readonly OverlayBox[], fit: Fit, point: { x: number; y: number }): number | null {
  let best: number | null = null;
  let bestArea = Infinity;
  boxes.forEach((item, index) => {
    const rect = toStage(item.box, fit);
    if (contains(rect, point) && rect.width * rect.height < bestArea) {
      best = index;
      bestArea = rect.width * rect.height;
    }
  });
  return best;
}
