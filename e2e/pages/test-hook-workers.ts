/**
 * Every Worker the page starts from now on is named TEST_HOOKS_WORKER_NAME (so it installs the fault
 * hooks of src/worker/test-hooks.ts) and recorded here, newest last: pages post hook messages to
 * `workers.at(-1)` and count `workers.length` to see how many workers a scenario started.
 */
import { TEST_HOOKS_WORKER_NAME } from '../../src/worker/test-hooks.js';

export const workers: Worker[] = [];

const NativeWorker = globalThis.Worker;
class RecordingWorker extends NativeWorker {
  constructor(url: string | URL, options?: WorkerOptions) {
    super(url, { ...options, name: TEST_HOOKS_WORKER_NAME });
    workers.push(this);
  }
}
globalThis.Worker = RecordingWorker;
