/**
 * Flags that give headless Debian chromium WebGPU on SwiftShader (see ../shared/DESIGN.md). Shared
 * by playwright.config.ts (the e2e specs), the kernel benchmark and the `webdetr` CLI.
 */
export const chromiumWebGpuArgs = [
  '--headless',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
];
