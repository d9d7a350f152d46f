/**
 * The benchmark's inputs, made once per model on the CPU (the same tensor goes to all three
 * implementations): the image stretched to the model size, the query patches cropped and stretched
 * to the patch size, 0-255 float NCHW (or, for box-kind packages, the rectangles relative to the picture). Browser bilinear resampling: close to, not equal to, the
 * runtime's preprocess; the frame times exclude preprocessing.
 */
export interface PatchBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function toNchw(bitmap: ImageBitmap): Promise<Float32Array<ArrayBuffer>> {
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d');
  if (context === null) throw new Error('no 2d context');
  context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, width, height).data;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = rgba[4 * i] ?? 0;
    out[plane + i] = rgba[4 * i + 1] ?? 0;
    out[2 * plane + i] = rgba[4 * i + 2] ?? 0;
  }
  return out;
}

export async function loadImageBlob(url: string): Promise<Blob> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: ${response.status}`);
  return response.blob();
}

export async function imageTensor(blob: Blob, height: number, width: number): Promise<Float32Array<ArrayBuffer>> {
  return toNchw(await createImageBitmap(blob, { resizeWidth: width, resizeHeight: height, resizeQuality: 'medium' }));
}

/** [1, slots, 3, size, size]: the boxes in order, unused slots repeating the first (as the runtime fills them). */
export async function patchTensor(blob: Blob, boxes: readonly PatchBox[], slots: number, size: number): Promise<Float32Array<ArrayBuffer>> {
  const out = new Float32Array(slots * 3 * size * size);
  for (let k = 0; k < slots; k++) {
    const box = boxes[k] ?? boxes[0];
    if (box === undefined) throw new Error('no query patches');
    const bitmap = await createImageBitmap(blob, box.x, box.y, box.width, box.height, {
      resizeWidth: size,
      resizeHeight: size,
      resizeQuality: 'medium',
    });
    out.set(await toNchw(bitmap), k * 3 * size * size);
  }
  return out;
}

/** [1, slots, 4]: the boxes as x0, y0, x1, y1 relative to the picture, unused slots repeating the first. */
export async function patchBoxes(blob: Blob, boxes: readonly PatchBox[], slots: number): Promise<Float32Array<ArrayBuffer>> {
  const bitmap = await createImageBitmap(blob);
  const { width, height } = bitmap;
  bitmap.close();
  const out = new Float32Array(slots * 4);
  for (let k = 0; k < slots; k++) {
    const box = boxes[k] ?? boxes[0];
    if (box === undefined) throw new Error('no query patches');
    out.set([box.x / width, box.y / height, (box.x + box.width) / width, (box.y + box.height) / height], 4 * k);
  }
  return out;
}
