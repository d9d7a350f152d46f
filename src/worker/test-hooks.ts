/**
 * Fault injection for tests only: installed solely in a worker started with the name
 * TEST_HOOKS_WORKER_NAME (e2e pages do that; createDetector never does), so a production worker
 * ignores these messages. Not part of the public API.
 *
 *   worker.postMessage({ webdetrTestHook: 'lose-device', afterSubmits: 3 })  // destroy the GPUDevice right after its 3rd queue.submit from now (mid-frame)
 *   worker.postMessage({ webdetrTestHook: 'exit' })                           // the worker closes itself: no error event, like a thread that died
 *   worker.postMessage({ webdetrTestHook: 'stall', ms: 3000 })                // the thread is busy (like a long WASM graph run), not dead
 *   worker.postMessage({ webdetrTestHook: 'gc' })                             // full GC in the worker (needs --js-flags=--expose-gc), before a stats() call
 */
export const TEST_HOOKS_WORKER_NAME = 'webdetr:test-hooks';

export type TestHookMessage =
  | { webdetrTestHook: 'lose-device'; afterSubmits: number }
  | { webdetrTestHook: 'exit' }
  | { webdetrTestHook: 'stall'; ms: number }
  | { webdetrTestHook: 'gc' };

function isTestHook(data: unknown): data is TestHookMessage {
  return typeof data === 'object' && data !== null && 'webdetrTestHook' in data;
}

/** Destroys `device` right after its n-th queue.submit from now: GPU work is in flight, the call has not finished. */
function loseDeviceAfter(device: GPUDevice, submits: number): void {
  const { queue } = device;
  const submit = queue.submit.bind(queue);
  let left = Math.max(1, Math.floor(submits));
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    submit(buffers);
    left -= 1;
    if (left === 0) {
      queue.submit = submit;
      device.destroy();
    }
  };
}

export function installTestHooks(scope: { name?: string; addEventListener: Worker['addEventListener']; close(): void }, device: () => GPUDevice | undefined): void {
  if (scope.name !== TEST_HOOKS_WORKER_NAME) return;
  scope.addEventListener('message', (event: MessageEvent) => {
    const data: unknown = event.data;
    if (!isTestHook(data)) return;
    if (data.webdetrTestHook === 'exit') scope.close();
    else if (data.webdetrTestHook === 'gc') (globalThis as { gc?: () => void }).gc?.();
    else if (data.webdetrTestHook === 'stall') {
      const until = performance.now() + data.ms;
      while (performance.now() < until) {
        // Busy on purpose: the thread answers nothing meanwhile.
      }
    } else {
      const gpu = device();
      if (gpu !== undefined) loseDeviceAfter(gpu, data.afterSubmits);
    }
  });
}
