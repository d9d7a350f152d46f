export * from './device.js';
export * from './buffers.js';
export * from './error-scope.js';
export * from './pipeline-cache.js';
export * from './gpu-timer.js';
