/** The demo's line under a one-shot result: what ran for it (encoder reuse, zoomed search). */
import type { OneShotResult } from '../api/types.js';

export function oneShotNote(result: Pick<OneShotResult, 'patches' | 'reusedImageFeatures'>, preparedImages: boolean): string {
  const zoomed = result.patches.filter((p) => p.views > 1);
  if (zoomed.length > 0) {
    const windows = (zoomed[0]?.views ?? 1) - 1;
    const which = zoomed.length === 1 ? 'a small patch was' : `${zoomed.length} small patches were`;
    return (
      `Zoomed search: ${which} also searched in ${windows} enlarged windows of the picture ` +
      '(the image encoder ran for each window and again for the whole picture).'
    );
  }
  if (result.reusedImageFeatures) return 'Image features reused: only the patch branch and the decoder ran.';
  return preparedImages
    ? 'First query on this picture: the image encoder ran once; the next patches reuse its output.'
    : 'The image encoder ran for this query (this runtime build cannot reuse a prepared picture).';
}
