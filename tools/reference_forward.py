"""Run our reference PyTorch model on one image and save/compare its raw outputs.

Usage:
  python3 tools/reference_forward.py --checkpoint x.pth --image img.png [--resize]
      (--checkpoint may be a Hugging Face Deformable-DETR checkpoint too: its directory or files)
      [--patches x0,y0,x1,y1 [x0,y0,x1,y1 ...] | --patches-npy patches.npy]
      [--out-dir outdir] [--expected-logits a.npy --expected-boxes b.npy] [--threads 2]
The image is fed as (rgb/255 - mean)/std without padding; by default at its own size (the reference data),
with --resize at the official eval size (shorter side 800, longest <= 1333, PIL bilinear). UP-DETR
pretraining checkpoints need query patches: rectangles in the (resized) image's pixels, cropped and
resized to 128x128 with PIL bilinear, or a ready [1,K,3,128,128] .npy. Writes pred_logits.npy and
pred_boxes.npy and prints the max abs difference to the expected files when given.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch


from webdetr_tools.checkpoint import load_checkpoint
from webdetr_tools.export.huggingface import is_huggingface_checkpoint, load_huggingface_checkpoint, reference_model
from webdetr_tools.models import model_from_checkpoint
from webdetr_tools.models.inputs import crop_patches, load_rgb, resize_for_eval, to_normalized_tensor


def parse_rect(text: str):
    values = [int(round(float(v))) for v in text.split(",")]
    if len(values) != 4 or values[2] <= values[0] or values[3] <= values[1]:
        raise argparse.ArgumentTypeError(f"expected x0,y0,x1,y1 with x1>x0, y1>y0, got {text!r}")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--image", required=True, type=Path)
    parser.add_argument("--resize", action="store_true", help="official eval resize (800 / max 1333)")
    parser.add_argument("--patches", nargs="+", type=parse_rect, help="query rectangles x0,y0,x1,y1")
    parser.add_argument("--patches-npy", type=Path, help="normalized query patches [1,K,3,h,w]")
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    parser.add_argument("--expected-logits", type=Path)
    parser.add_argument("--expected-boxes", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args(argv)
    torch.set_num_threads(opts.threads)

    if is_huggingface_checkpoint(opts.checkpoint):
        model = reference_model(load_huggingface_checkpoint(opts.checkpoint))
        config = model.config
    else:
        state_dict, args = load_checkpoint(opts.checkpoint)
        model, config = model_from_checkpoint(state_dict, args)
    image = load_rgb(opts.image)
    if opts.resize:
        image = resize_for_eval(image)
    images = to_normalized_tensor(image)
    patches = None
    if opts.patches and opts.patches_npy:
        parser.error("give --patches or --patches-npy, not both")
    if opts.patches:
        patches = crop_patches(image, opts.patches)
    elif opts.patches_npy:
        patches = torch.from_numpy(np.load(opts.patches_npy).astype(np.float32))
    if config.family == "up-detr" and config.variant == "pretrain" and patches is None:
        parser.error("this UP-DETR pretraining checkpoint needs --patches or --patches-npy")

    start = time.perf_counter()
    with torch.no_grad():
        out = model(images, patches) if config.family == "up-detr" else model(images)
    seconds = time.perf_counter() - start
    logits, boxes = out["pred_logits"].numpy(), out["pred_boxes"].numpy()
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    np.save(opts.out_dir / "pred_logits.npy", logits)
    np.save(opts.out_dir / "pred_boxes.npy", boxes)
    print(
        f"{config.family} {config.variant}: input {tuple(images.shape)}, logits {logits.shape}, "
        f"boxes {boxes.shape}, forward {seconds:.2f} s -> {opts.out_dir}"
    )
    for name, path, got in (("logits", opts.expected_logits, logits), ("boxes", opts.expected_boxes, boxes)):
        if path is not None:
            expected = np.load(path)
            if expected.shape != got.shape:
                print(f"{name}: shape {got.shape} differs from expected {expected.shape}")
            else:
                print(f"{name}: max abs diff {np.abs(got - expected).max():.3e}")


if __name__ == "__main__":
    main()
