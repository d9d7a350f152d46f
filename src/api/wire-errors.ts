/**
 * Typed errors across the worker boundary. Structured clone keeps only message/name/stack of an
 * Error, so comlink's `throw` handler is replaced (on both sides) by one that carries our `code` and
 * the typed fields, and rebuilds the same error class on the page: `instanceof InputError` and
 * `error.code` work for callers as if the engine ran in the page.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import {
  DeviceLostError,
  DisposedError,
  GpuError,
  ImageFetchError,
  InputError,
  ManifestError,
  ModelFetchError,
  ModelIntegrityError,
  SupersededError,
  WebDetrError,
  WebGpuUnavailableError,
  WorkerError,
  type ModelIntegrityReason,
  type WebDetrErrorCode,
} from '../errors.js';

export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: WebDetrErrorCode;
  url?: string;
  status?: number;
  reason?: string;
  violations?: string[];
}

export function errorToWire(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const wire: WireError = { name: error.name, message: error.message, ...(error.stack !== undefined ? { stack: error.stack } : {}) };
  if (error instanceof WebDetrError) {
    wire.code = error.code;
    const fields = error as WebDetrError & Partial<Record<'url' | 'status' | 'reason', unknown>> & { violations?: readonly string[] };
    if (typeof fields.url === 'string') wire.url = fields.url;
    if (typeof fields.status === 'number') wire.status = fields.status;
    if (typeof fields.reason === 'string') wire.reason = fields.reason;
    if (fields.violations) wire.violations = [...fields.violations];
  }
  return wire;
}

export function errorFromWire(wire: WireError): Error {
  let error: Error;
  switch (wire.code) {
    case 'invalid-input':
      error = new InputError(wire.message);
      break;
    case 'webgpu-unavailable':
      error = new WebGpuUnavailableError(wire.message);
      break;
    case 'gpu-validation':
    case 'gpu-out-of-memory':
    case 'gpu-internal':
      error = new GpuError(wire.code, wire.message);
      break;
    case 'device-lost':
      error = new DeviceLostError(wire.reason ?? 'unknown', wire.message);
      break;
    case 'disposed':
      error = Object.assign(new DisposedError('detector'), { message: wire.message });
      break;
    case 'model-fetch':
      error = new ModelFetchError(wire.url ?? '', wire.message, wire.status !== undefined ? { status: wire.status } : {});
      break;
    case 'image-fetch':
      error = new ImageFetchError(wire.url ?? '', wire.message, wire.status !== undefined ? { status: wire.status } : {});
      break;
    case 'model-integrity':
      error = new ModelIntegrityError(wire.url ?? '', (wire.reason ?? 'hash-mismatch') as ModelIntegrityReason, wire.message);
      break;
    case 'invalid-manifest':
      error = Object.assign(new ManifestError(wire.violations ?? []), { message: wire.message });
      break;
    case 'superseded':
      error = new SupersededError();
      break;
    case 'worker-failed':
      error = new WorkerError(wire.message);
      break;
    default:
      error = new Error(wire.message);
      error.name = wire.name;
  }
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

interface ThrownValue {
  value: unknown;
}

let installed = false;

/** Idempotent; call in the page and in the worker before any call crosses. */
export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const original = transferHandlers.get('throw') as TransferHandler<ThrownValue, { isError: boolean; value: unknown }>;
  const handler: TransferHandler<ThrownValue, WireError> = {
    canHandle: (value: unknown): value is ThrownValue => original.canHandle(value),
    serialize: ({ value }) => [errorToWire(value), []],
    deserialize: (wire) => {
      throw errorFromWire(wire);
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}
