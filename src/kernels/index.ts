// Public kernel entry points (the `webdetr/kernels` export). Each kernel module appends its exports here.
export {};
export * from './bilinear-options.js';
export * from './bilinear-reference.js';
export * from './bilinear-resize-normalize.js';
export * from './bilinear-crop-resize.js';
export * from './pixel-upload.js';
