/**
 * Fault injection for tests only: installed solely in a worker started with the name
 * TEST_HOOKS_WORKER_NAME (e2e pages do that; createDetector never does), so a production worker
 * ignores these messages. Not part of the public API.
 *
 *   worker.postMessage({ webdetrTestHook: 'lose-device', afterSubmits: 3 })
 *                                          // destroy the GPUDevice right after its 3rd queue.submit from now (mid-frame)
 *   worker.postMessage({ webdetrTestHook: 'exit' })
 *                                          // the worker closes itself: no error event, like a thread that died
 *   worker.postMessage({ webdetrTestHook: 'stall', ms: 3000 })
 *                                          // the thread is busy (like a long WASM graph run), not dead
 *   worker.postMessage({ webdetrTestHook: 'gc' })
 *                                          // full GC in the worker (needs --js-flags=--expose-gc), before a stats() call
 *   worker.postMessage({ webdetrTestHook: 'out-of-memory', minBytes: 1e6, label: '^package-runner-gpu' })
 *                                          // the next buffer/texture of >= minBytes (label matching) fails as if GPU memory ran out
 */
export const TEST_HOOKS_WORKER_NAME = 'webdetr:test-hooks';

export type TestHookMessage =
  | { webdetrTestHook: 'lose-device'; afterSubmits: number }
  | { webdetrTestHook: 'exit' }
  | { webdetrTestHook: 'stall'; ms: number }
  | { webdetrTestHook: 'gc' }
  | { webdetrTestHook: 'out-of-memory'; minBytes: number; label?: string };

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

interface OutOfMemoryTrigger {
  minBytes: number;
  label: RegExp | undefined;
}

function textureBytes(descriptor: GPUTextureDescriptor): number {
  const size = descriptor.size;
  const [width = 1, height = 1, layers = 1] =
    Symbol.iterator in size ? [...size] : [size.width, size.height ?? 1, size.depthOrArrayLayers ?? 1];
  return width * height * layers * 4; // rgba8: the only format we create
}

const armedDevices = new WeakMap<GPUDevice, { trigger: OutOfMemoryTrigger | undefined }>();

/**
 * Makes the next buffer or texture of at least `minBytes` (label matching) on `device` fail as an
 * allocation beyond the GPU's memory does: the object is unusable (destroyed at once, so any use is a
 * validation error) and a GPUOutOfMemoryError lands in the innermost 'out-of-memory' error scope open
 * then, or is dispatched as an uncapturederror. SwiftShader takes its memory from the host, so a real
 * out-of-memory cannot be provoked reliably; this reproduces what WebGPU reports when one happens.
 */
export function armOutOfMemory(device: GPUDevice, minBytes: number, label?: string): void {
  let state = armedDevices.get(device);
  if (state === undefined) {
    const slot: { trigger: OutOfMemoryTrigger | undefined } = { trigger: undefined };
    state = slot;
    armedDevices.set(device, slot);
    // Scopes pushed from now on, innermost last; an injected error waits in its scope until popped.
    const scopes: { filter: GPUErrorFilter; injected?: GPUError }[] = [];
    const push = device.pushErrorScope.bind(device);
    const pop = device.popErrorScope.bind(device);
    device.pushErrorScope = (filter: GPUErrorFilter) => {
      scopes.push({ filter });
      push(filter);
    };
    device.popErrorScope = async () => {
      const scope = scopes.pop();
      const error = await pop();
      return scope?.injected ?? error;
    };
    const fail = (kind: string, bytes: number, objectLabel: string | undefined): boolean => {
      const trigger = slot.trigger;
      if (trigger === undefined || bytes < trigger.minBytes || (trigger.label && !trigger.label.test(objectLabel ?? ''))) return false;
      slot.trigger = undefined;
      const message = `injected: not enough memory for ${kind} ${objectLabel ?? '(unlabeled)'} of ${bytes} bytes`;
      const error: GPUError = typeof GPUOutOfMemoryError === 'function' ? new GPUOutOfMemoryError(message) : ({ message } as GPUError);
      const scope = [...scopes].reverse().find((s) => s.filter === 'out-of-memory');
      if (scope !== undefined) scope.injected ??= error;
      else device.dispatchEvent(new GPUUncapturedErrorEvent('uncapturederror', { error }));
      return true;
    };
    const createBuffer = device.createBuffer.bind(device);
    device.createBuffer = (descriptor: GPUBufferDescriptor) => {
      const buffer = createBuffer(descriptor);
      if (fail('buffer', descriptor.size, descriptor.label)) buffer.destroy();
      return buffer;
    };
    const createTexture = device.createTexture.bind(device);
    device.createTexture = (descriptor: GPUTextureDescriptor) => {
      const texture = createTexture(descriptor);
      if (fail('texture', textureBytes(descriptor), descriptor.label)) texture.destroy();
      return texture;
    };
  }
  state.trigger = { minBytes, label: label === undefined ? undefined : new RegExp(label) };
}

export function installTestHooks(
  scope: { name?: string; addEventListener: Worker['addEventListener']; close(): void },
  device: () => GPUDevice | undefined,
): void {
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
    } else if (data.webdetrTestHook === 'out-of-memory') {
      const gpu = device();
      if (gpu !== undefined) armOutOfMemory(gpu, data.minBytes, data.label);
    } else {
      const gpu = device();
      if (gpu !== undefined) loseDeviceAfter(gpu, data.afterSubmits);
    }
  });
}
