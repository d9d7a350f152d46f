/**
 * Typed errors shared by every layer. Each carries a stable `code` so callers (and the worker
 * boundary, which cannot transfer class identity) can branch on it without parsing messages.
 */
export type WebDetrErrorCode =
  | 'invalid-input'
  | 'webgpu-unavailable'
  | 'gpu-validation'
  | 'gpu-out-of-memory'
  | 'gpu-internal'
  | 'device-lost'
  | 'disposed'
  | 'model-fetch'
  | 'image-fetch'
  | 'model-integrity'
  | 'invalid-manifest'
  | 'superseded'
  | 'worker-failed';

export class WebDetrError extends Error {
  readonly code: WebDetrErrorCode;
  constructor(code: WebDetrErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A caller passed a tensor, shape or option the operation cannot accept. Thrown before any GPU work. */
export class InputError extends WebDetrError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid-input', message, options);
  }
}

/** navigator.gpu is missing, or no adapter/device could be obtained. */
export class WebGpuUnavailableError extends WebDetrError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('webgpu-unavailable', message, options);
  }
}

/** A WebGPU error scope caught an error while we encoded or submitted work. */
export class GpuError extends WebDetrError {
  constructor(code: 'gpu-validation' | 'gpu-out-of-memory' | 'gpu-internal', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The GPUDevice was lost (driver reset, `device.destroy()`, tab backgrounded on mobile...). */
export class DeviceLostError extends WebDetrError {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('device-lost', message);
    this.reason = reason;
  }
}

/** The object was used after `dispose()`. */
export class DisposedError extends WebDetrError {
  constructor(what: string) {
    super('disposed', `${what} was used after dispose()`);
  }
}

/** A model file could not be downloaded: HTTP error status, network failure (offline, CORS) or abort. */
export class ModelFetchError extends WebDetrError {
  readonly url: string;
  /** HTTP status when the server answered, undefined for network-level failures. */
  readonly status: number | undefined;
  constructor(url: string, message: string, options?: { status?: number; cause?: unknown }) {
    super('model-fetch', message, options);
    this.url = url;
    this.status = options?.status;
  }
}

/**
 * A picture given by URL (the `<web-detr src>` attribute) could not be fetched: the server answered
 * with an error status (`status`) or the request failed (offline, CORS). A picture that arrived but
 * cannot be decoded is an InputError.
 */
export class ImageFetchError extends WebDetrError {
  readonly url: string;
  readonly status: number | undefined;
  constructor(url: string, message: string, options?: { status?: number; cause?: unknown }) {
    super('image-fetch', message, options);
    this.url = url;
    this.status = options?.status;
  }
}

/**
 * A model file arrived but is not the file the manifest describes (truncated, too long, wrong sha256),
 * or it matches the manifest but onnxruntime cannot load it as a graph (`invalid-graph`: a broken package),
 * or the loaded graph's inputs/outputs contradict the manifest (`graph-mismatch`).
 */
export class ModelIntegrityError extends WebDetrError {
  readonly url: string;
  readonly reason: ModelIntegrityReason;
  constructor(url: string, reason: ModelIntegrityReason, message: string) {
    super('model-integrity', message);
    this.url = url;
    this.reason = reason;
  }
}

/** `graph-mismatch`: the graph loads, but its inputs/outputs are not what the manifest declares (names, dtypes, fixed dims). */
export type ModelIntegrityReason = 'truncated' | 'too-long' | 'hash-mismatch' | 'invalid-graph' | 'graph-mismatch';

/** A model package manifest breaks the schema (schemas/manifest.schema.json) or its cross-reference rules. */
export class ManifestError extends WebDetrError {
  /** Every problem found, each as "<json pointer>: <what is wrong>". */
  readonly violations: readonly string[];
  constructor(violations: readonly string[]) {
    super('invalid-manifest', `invalid webdetr manifest:\n  ${violations.join('\n  ')}`);
    this.violations = violations;
  }
}

/** A queued `replaceable` detect was dropped because a newer one arrived (video frames). */
export class SupersededError extends WebDetrError {
  constructor() {
    super('superseded', 'this detect call was replaced by a newer one before it ran');
  }
}

/** The worker crashed or could not start; pending calls reject with this, and the detector can be recreated. */
export class WorkerError extends WebDetrError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('worker-failed', message, options);
  }
}
