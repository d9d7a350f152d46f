// Public kernel entry points (the `webdetr/kernels` export). Each kernel module appends its exports here.
export {};
