export const chromiumWebGpuArgs: string[];
