/**
 * The one-shot image pipeline (backbone + encoder) and which image's encoding the runner holds after
 * it: the runner keeps a pipeline's tensors alive, so a re-query of the same prepared image runs only
 * the patches pipeline. Anything else that writes the encoder tensors (a window view, a detect call,
 * a GPU error dropping the runner's buffers) makes it forget.
 */
import type { StageTimings } from '../api/types.js';
import type { PackageRunner, RunnerInput } from '../runtime/runner.js';
import { addStages } from './timings.js';

export class ImageEncoding {
  private held: number | undefined;

  constructor(
    private readonly runner: PackageRunner,
    private readonly pipeline: string,
  ) {}

  /** Whether the runner holds the encoding of prepared image `imageId`. */
  holds(imageId: number): boolean {
    return this.held === imageId;
  }

  /**
   * Runs the image pipeline on `input`; `imageId`: the prepared image it is the whole of, whose encoding
   * the runner then holds (undefined for a window view or a temporary image, which no call can reuse).
   */
  async encode(input: RunnerInput, timings: StageTimings, imageId?: number): Promise<void> {
    this.held = undefined;
    addStages(timings, (await this.runner.run(this.pipeline, { image: input })).stages);
    this.held = imageId;
  }

  forget(): void {
    this.held = undefined;
  }
}
