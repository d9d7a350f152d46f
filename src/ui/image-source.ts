/**
 * Where pictures come from: the file picker, drag-and-drop anywhere on the page, paste, and the
 * bundled sample photos. Every path ends in one `onImage` call with the file itself (the runtime
 * decodes it, so the demo's results are exactly the library's) and a bitmap for display.
 */

export interface OpenedImage {
  blob: Blob;
  bitmap: ImageBitmap;
  name: string;
}

export interface Sample {
  id: string;
  url: string;
  name: string;
}

export const SAMPLES: readonly Sample[] = [
  { id: 'astronaut', url: 'samples/astronaut.jpg', name: 'Astronaut' },
  { id: 'coffee', url: 'samples/coffee.jpg', name: 'Coffee' },
  { id: 'chelsea', url: 'samples/chelsea.jpg', name: 'Cat' },
  // Many look-alikes: the photo to try Find similar on.
  { id: 'coins', url: 'samples/coins.jpg', name: 'Coins' },
];

export interface ImageSourceElements {
  fileInput: HTMLInputElement;
  dropTarget: HTMLElement;
  samples: HTMLElement;
}

export interface ImageSource {
  openSample(id: string): Promise<void>;
  onImage(listener: (image: OpenedImage) => void): void;
  onError(listener: (message: string) => void): void;
}

async function decode(blob: Blob, name: string): Promise<OpenedImage> {
  if (blob.type !== '' && !blob.type.startsWith('image/')) throw new Error(`${name} is not an image (${blob.type})`);
  // Same decode options as the runtime (no premultiplication, no colour conversion).
  const bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  return { blob, bitmap, name };
}

export function createImageSource(elements: ImageSourceElements): ImageSource {
  let imageListener: (image: OpenedImage) => void = () => undefined;
  let errorListener: (message: string) => void = () => undefined;
  const open = (blob: Blob, name: string) =>
    decode(blob, name).then(imageListener, (error: unknown) =>
      errorListener(`Could not open ${name}: ${error instanceof Error ? error.message : String(error)}`),
    );

  elements.fileInput.addEventListener('change', () => {
    const file = elements.fileInput.files?.[0];
    if (file !== undefined) void open(file, file.name);
    elements.fileInput.value = '';
  });

  // Drop anywhere on the page; the drop target shows that it will accept the file.
  document.addEventListener('dragover', (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return;
    event.preventDefault();
    elements.dropTarget.classList.add('drop-ready');
  });
  document.addEventListener('dragleave', (event) => {
    if (event.relatedTarget === null) elements.dropTarget.classList.remove('drop-ready');
  });
  document.addEventListener('drop', (event) => {
    elements.dropTarget.classList.remove('drop-ready');
    const file = [...(event.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/'));
    if (file === undefined) return;
    event.preventDefault();
    void open(file, file.name);
  });
  document.addEventListener('paste', (event) => {
    const item = [...(event.clipboardData?.items ?? [])].find((i) => i.kind === 'file' && i.type.startsWith('image/'));
    const file = item?.getAsFile();
    if (file === null || file === undefined) return;
    event.preventDefault();
    void open(file, 'pasted image');
  });

  async function openSample(id: string): Promise<void> {
    const sample = SAMPLES.find((s) => s.id === id);
    if (sample === undefined) return;
    try {
      const response = await fetch(sample.url);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      await open(await response.blob(), sample.name);
    } catch (error) {
      errorListener(`Could not load the sample ${sample.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  for (const sample of SAMPLES) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sample';
    button.dataset.sample = sample.id;
    button.setAttribute('aria-label', `Open sample photo: ${sample.name}`);
    const thumb = document.createElement('img');
    thumb.src = sample.url;
    thumb.alt = '';
    thumb.width = 48;
    thumb.height = 36;
    thumb.decoding = 'async';
    const caption = document.createElement('span');
    caption.textContent = sample.name;
    button.append(thumb, caption);
    button.addEventListener('click', () => void openSample(sample.id));
    elements.samples.append(button);
  }

  return {
    openSample,
    onImage(listener) {
      imageListener = listener;
    },
    onError(listener) {
      errorListener = listener;
    },
  };
}
