#!/usr/bin/env python3
"""Test fixture for the aspect-ratio parity tests: a synthetic checkpoint exported with a shorter-side size policy
(--shortest/--longest, dynamic shapes), five pictures of different aspect ratios, and for each the official
preprocessing (get_size_with_aspect_ratio + PIL bilinear) and our PyTorch reference model's outputs on it (equal to
the official code, tools/tests/test_reference_forward.py). Cached in --cache keyed by the exporter sources and
options. Prints one JSON line: {"dir", "pictures": [{"name", "rgba", "width", "height", "resized": [h, w],
"expected_logits", "expected_boxes"}]}.

    /usr/bin/python3 tools/aspect_parity_fixture.py --config plain --cache node_modules/.cache/webdetr-export

Configs: plain (the official defaults: R50, 4 levels, 6+6 layers, 300 queries), two-stage-small (the official
two-stage + box refine with 2+2 layers and 40 queries: two-stage picks its queries among the encoder's tokens, so a
small picture needs few queries). Pictures (width x height, cut from the reference image): portrait 3:4 150x200,
landscape 16:9 256x144, square 120x120, strip 1:3 60x180, tiny 40x30.
"""
import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from webdetr_tools.cache_lock import package_lock

TOOLS = Path(__file__).resolve().parent

PICTURES = {"portrait": (150, 200), "landscape": (256, 144), "square": (120, 120), "strip": (60, 180), "tiny": (40, 30)}
CONFIGS = {
    "plain": ("deformable_plain", {}),
    "two-stage-small": ("deformable_two_stage", {"enc_layers": 2, "dec_layers": 2, "num_queries": 40}),
}


def picture(image, width, height):
    """The centre crop of `image` at width:height, PIL-bilinear resized to width x height (an 'original' photo)."""
    from PIL import Image

    scale = min(image.width / width, image.height / height)
    cw, ch = width * scale, height * scale
    x0, y0 = (image.width - cw) / 2, (image.height - ch) / 2
    return image.crop((round(x0), round(y0), round(x0 + cw), round(y0 + ch))).resize((width, height), Image.BILINEAR)


def build(args, reference, out):
    import numpy as np
    import torch

    from webdetr_tools.checkpoint import save_checkpoint
    from webdetr_tools.config import config_from_checkpoint
    from webdetr_tools.export.exporter import export_checkpoint
    from webdetr_tools.export.huggingface import post_process_object_detection
    from webdetr_tools.export.size_policy import official_size
    from webdetr_tools.models import build_model, model_from_checkpoint
    from webdetr_tools.models.inputs import load_rgb, to_normalized_tensor
    from webdetr_tools.weights import synthetic_state_dict

    torch.set_num_threads(2)
    variant, changes = CONFIGS[args.config]
    official_args = json.loads((reference / variant / "args.json").read_text())
    shapes = json.loads((reference / variant / "state_dict_shapes.json").read_text())
    if changes:  # the derived config's own keys (fewer layers), weights drawn by the reference rule
        config = replace(config_from_checkpoint(synthetic_state_dict(shapes), official_args), **changes)
        shapes = {k: list(v.shape) for k, v in build_model(config).state_dict().items()}
    official_args.update(changes)
    state = synthetic_state_dict(shapes, seed=1)
    model, _ = model_from_checkpoint(state, official_args)
    model.eval()
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    save_checkpoint(work / "checkpoint.pth", state, official_args)
    export_checkpoint(
        work / "checkpoint.pth",
        work,
        single_graph=False,
        size_policy={"kind": "shorter-side", "shortest": args.shortest, "longest": args.longest},
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    (work / "checkpoint.pth").unlink()
    source = load_rgb(reference / "image.png")
    pictures = []
    for name, (width, height) in PICTURES.items():
        photo = picture(source, width, height)
        out_w, out_h = official_size(width, height, args.shortest, args.longest)
        resized = photo if (out_w, out_h) == (width, height) else photo.resize((out_w, out_h), 2)  # PIL BILINEAR
        with torch.no_grad():
            expected = model(to_normalized_tensor(resized))
        # the official / Hugging Face post-processing, boxes in the original picture's pixels
        detections = post_process_object_detection(
            expected["pred_logits"], expected["pred_boxes"], [(height, width)], k=10
        )[0]
        classes = expected["pred_logits"].shape[-1]
        top_queries = torch.topk(expected["pred_logits"].sigmoid().flatten(), 10)[1] // classes
        rgba = np.asarray(photo.convert("RGBA"), dtype=np.uint8)
        rgba.tofile(work / f"{name}.rgba")
        np.save(work / f"{name}_logits.npy", expected["pred_logits"].numpy())
        np.save(work / f"{name}_boxes.npy", expected["pred_boxes"].numpy())
        pictures.append(
            {
                "name": name,
                "rgba": f"{name}.rgba",
                "width": width,
                "height": height,
                "resized": [out_h, out_w],
                "expected_logits": f"{name}_logits.npy",
                "expected_boxes": f"{name}_boxes.npy",
                "top_scores": detections["scores"].tolist(),
                "top_labels": detections["labels"].tolist(),
                "top_queries": top_queries.tolist(),
                "top_boxes": detections["boxes"].tolist(),
            }
        )
    (work / "pictures.json").write_text(json.dumps(pictures, indent=1) + "\n")
    work.rename(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--shortest", type=int, default=64)
    parser.add_argument("--longest", type=int, default=107)
    parser.add_argument("--shared", type=Path, default=TOOLS.parent.parent / "shared")
    parser.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args()
    digest = hashlib.sha256(json.dumps([args.config, args.shortest, args.longest, PICTURES, CONFIGS]).encode())
    for path in sorted((TOOLS / "webdetr_tools" / "export").glob("*.py")) + [Path(__file__)]:
        digest.update(path.read_bytes())
    for path in sorted((TOOLS / "webdetr_tools" / "models").glob("*.py")):
        digest.update(path.read_bytes())
    name = f"aspect-{args.config}-{args.shortest}-{args.longest}"
    out = args.cache / f"{name}-{digest.hexdigest()[:16]}"
    if not (out / "manifest.json").is_file():
        with package_lock(args.cache, f"{name}-"):
            if not (out / "manifest.json").is_file():
                for stale in args.cache.glob(f"{name}-*"):
                    shutil.rmtree(stale, ignore_errors=True)
                build(args, args.shared / "reference", out)
    print(json.dumps({"dir": str(out), "pictures": json.loads((out / "pictures.json").read_text())}))


if __name__ == "__main__":
    main()
