/**
 * GPU pass timings from timestamp queries: a pair of timestamps around each compute pass, resolved
 * into a buffer in the same command encoder and read back after submit. Without the
 * 'timestamp-query' feature every method still works and `read()` returns an empty list, so callers
 * need no feature checks. Chromium quantizes timestamps (100 µs) unless WebGPU developer features
 * are enabled.
 *
 *   const timer = createGpuTimer(device, { capacity: 4 });
 *   const pass = encoder.beginComputePass({ timestampWrites: timer.passTimestampWrites('msda') });
 *   ...; timer.resolve(encoder); device.queue.submit([encoder.finish()]);
 *   const [{ label, durationNs }] = await timer.read();
 */

export interface PassTiming {
  label: string;
  /** End minus beginning of the pass, in nanoseconds (0 when the implementation clamps). */
  durationNs: number;
}

export interface GpuTimer {
  /** False when the device lacks 'timestamp-query': timings are then never produced. */
  readonly enabled: boolean;
  /** `timestampWrites` for the next pass of this frame, or undefined when disabled. */
  passTimestampWrites(label: string): GPUComputePassTimestampWrites | undefined;
  /** Encodes the resolve of this frame's queries; call once, after the timed passes. */
  resolve(encoder: GPUCommandEncoder): void;
  /** After the resolving command buffer was submitted: the frame's timings, in pass order. */
  read(): Promise<PassTiming[]>;
  dispose(): void;
}

export interface GpuTimerOptions {
  /** Most timed passes per frame (default 8). */
  capacity?: number;
  label?: string;
}

interface PendingFrame {
  labels: string[];
  readback: GPUBuffer;
}

export function createGpuTimer(device: GPUDevice, options: GpuTimerOptions = {}): GpuTimer {
  const capacity = options.capacity ?? 8;
  const label = options.label ?? 'gpu-timer';
  if (!device.features.has('timestamp-query')) return disabledTimer();

  const querySet = device.createQuerySet({ label: `${label}:queries`, type: 'timestamp', count: capacity * 2 });
  const resolveBuffer = device.createBuffer({
    label: `${label}:resolve`,
    size: capacity * 2 * 8,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  // Readbacks are recycled; several frames may be in flight before their read().
  const freeReadbacks: GPUBuffer[] = [];
  const pending: PendingFrame[] = [];
  let labels: string[] = [];
  let disposed = false;

  const takeReadback = (): GPUBuffer =>
    freeReadbacks.pop() ??
    device.createBuffer({
      label: `${label}:readback`,
      size: capacity * 2 * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });

  return {
    enabled: true,
    passTimestampWrites(passLabel) {
      if (labels.length >= capacity) throw new RangeError(`${label}: more than ${capacity} timed passes in one frame`);
      const index = labels.length;
      labels.push(passLabel);
      return { querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 };
    },
    resolve(encoder) {
      if (labels.length === 0) return;
      const readback = takeReadback();
      encoder.resolveQuerySet(querySet, 0, labels.length * 2, resolveBuffer, 0);
      encoder.copyBufferToBuffer(resolveBuffer, 0, readback, 0, labels.length * 2 * 8);
      pending.push({ labels, readback });
      labels = [];
    },
    async read() {
      const frame = pending.shift();
      if (!frame) return [];
      await frame.readback.mapAsync(GPUMapMode.READ, 0, frame.labels.length * 2 * 8);
      const stamps = new BigUint64Array(frame.readback.getMappedRange(0, frame.labels.length * 2 * 8).slice(0));
      frame.readback.unmap();
      if (disposed) frame.readback.destroy();
      else freeReadbacks.push(frame.readback);
      return frame.labels.map((passLabel, i) => {
        const begin = stamps[2 * i] ?? 0n;
        const end = stamps[2 * i + 1] ?? 0n;
        return { label: passLabel, durationNs: end > begin ? Number(end - begin) : 0 };
      });
    },
    dispose() {
      disposed = true;
      querySet.destroy();
      resolveBuffer.destroy();
      for (const buffer of freeReadbacks.splice(0)) buffer.destroy();
    },
  };
}

function disabledTimer(): GpuTimer {
  return {
    enabled: false,
    passTimestampWrites: () => undefined,
    resolve: () => undefined,
    read: () => Promise.resolve([]),
    dispose: () => undefined,
  };
}
