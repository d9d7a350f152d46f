#!/usr/bin/env python3
"""Test fixture for the Node parity tests: synthetic checkpoint of a ../shared/reference variant, exported to a
cache directory keyed by the exporter sources + variant + options (reused across runs), plus the normalized
reference image (and UP-DETR's query patches) as raw float32. Prints one JSON line {"dir", "image", "expected_logits", "expected_boxes"} (+ "patches" for UP-DETR).

    /usr/bin/python3 tools/export_parity_fixture.py --variant deformable_plain --cache node_modules/.cache/webdetr-export
"""
import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from webdetr_tools.checkpoint import save_checkpoint  # noqa: E402
from webdetr_tools.export.exporter import export_checkpoint  # noqa: E402
from webdetr_tools.export.package import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from webdetr_tools.weights import synthetic_state_dict  # noqa: E402

TOOLS = Path(__file__).resolve().parent


def source_hash(extra, with_models=False):
    digest = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    sources = sorted((TOOLS / "webdetr_tools" / "export").glob("*.py")) + [TOOLS / "webdetr_tools" / "weights.py"]
    if with_models:  # the UP-DETR export is built on the reference model and its config reader
        sources += sorted((TOOLS / "webdetr_tools" / "models").glob("*.py")) + [TOOLS / "webdetr_tools" / "config.py"]
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", required=True)
    parser.add_argument("--shared", type=Path, default=TOOLS.parent.parent / "shared")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--no-single-graph", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    reference = args.shared / "reference" / args.variant
    key = source_hash({"variant": args.variant, "fp16": args.fp16, "single": not args.no_single_graph,
                       "args": json.loads((reference / "args.json").read_text())},
                      with_models=(reference / "patches.npy").is_file())
    out = args.cache / f"{args.variant}{'-fp16' if args.fp16 else ''}-{key}"
    if not (out / "manifest.json").is_file():
        # one package per variant/options: drop stale exports of the same variant to bound disk use
        for stale in args.cache.glob(f"{args.variant}{'-fp16' if args.fp16 else ''}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        work = out.with_name(out.name + ".partial")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        shapes = json.loads((reference / "state_dict_shapes.json").read_text())
        checkpoint = work / "checkpoint.pth"
        save_checkpoint(checkpoint, synthetic_state_dict(shapes, seed=1), json.loads((reference / "args.json").read_text()))
        export_checkpoint(checkpoint, work, fp16=args.fp16, single_graph=not args.no_single_graph,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
        checkpoint.unlink()
        rgb = np.asarray(Image.open(args.shared / "reference" / "image.png").convert("RGB"), dtype=np.float32) / 255
        image = ((rgb - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32).transpose(2, 0, 1)
        np.ascontiguousarray(image).tofile(work / "image.f32")
        if (reference / "patches.npy").is_file():
            np.ascontiguousarray(np.load(reference / "patches.npy").astype(np.float32)).tofile(work / "patches.f32")
        work.rename(out)
    result = {"dir": str(out), "image": str(out / "image.f32"),
              "expected_logits": str(reference / "pred_logits.npy"), "expected_boxes": str(reference / "pred_boxes.npy")}
    if (out / "patches.f32").is_file():
        result["patches"] = str(out / "patches.f32")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
