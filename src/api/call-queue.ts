/**
 * Client-side call queue: one call at a time reaches the worker, in order. A `replaceable` call
 * (a video frame) that is still waiting when a newer replaceable call arrives is dropped with
 * SupersededError, so a slow model never builds a backlog of stale frames.
 */
import { SupersededError } from '../errors.js';

interface Pending {
  start: () => void;
  reject: (error: unknown) => void;
  replaceable: boolean;
}

export class CallQueue {
  private readonly waiting: Pending[] = [];
  private running = false;

  run<T>(task: () => Promise<T>, replaceable = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (replaceable) {
        for (let i = this.waiting.length - 1; i >= 0; i--) {
          const stale = this.waiting[i];
          if (stale?.replaceable) {
            this.waiting.splice(i, 1);
            stale.reject(new SupersededError());
          }
        }
      }
      const start = (): void => {
        task()
          .then(resolve, reject)
          .finally(() => {
            this.running = false;
            this.next();
          });
      };
      this.waiting.push({ start, reject, replaceable });
      this.next();
    });
  }

  /** Calls not yet started. */
  get length(): number {
    return this.waiting.length;
  }

  private next(): void {
    if (this.running) return;
    const pending = this.waiting.shift();
    if (pending === undefined) return;
    this.running = true;
    pending.start();
  }
}
