// WGSL sources are imported as text through Vite's `?raw` suffix (webgpu-samples style).
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
