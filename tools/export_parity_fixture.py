#!/usr/bin/env python3
"""Test fixture for the Node parity tests: synthetic checkpoint of a ../shared/reference variant, exported to a
cache directory keyed by the exporter sources + variant + options (reused across runs), plus the normalized
reference image (and UP-DETR's query patches) as raw float32. Prints one JSON line {"dir", "image", "expected_logits",
"expected_boxes"} (+ "patches" for UP-DETR).

    /usr/bin/python3 tools/export_parity_fixture.py --variant deformable_plain \
        --cache node_modules/.cache/webdetr-export

Concurrent invocations for the same package (two test suites at once) are safe: the export runs under a per-package
lock file in the cache directory; a second caller waits for it, then reuses the finished package.

--height/--width export at another input size (small sizes keep browser tests on SwiftShader WebGPU fast): the image is
the reference image PIL-bilinear resized to that size, and the expected outputs come from our PyTorch reference model
(equal to the official code on the reference variants, tools/tests/test_reference_forward.py) on that image.
"""
import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

from webdetr_tools.cache_lock import package_lock


TOOLS = Path(__file__).resolve().parent

# Configurations the official reference outputs don't cover: derived from a reference variant's args,
# expected outputs from our PyTorch reference model (equal to the official code on the four
# reference variants, tools/tests/test_reference_forward.py). Small widths exercise "any hidden size,
# layers, heads, points, queries"; `single-scale` is the official 1-level variant.
DERIVED = {
    "single-scale-small": dict(
        num_feature_levels=1,
        hidden_dim=64,
        nheads=4,
        enc_layers=2,
        dec_layers=2,
        dim_feedforward=128,
        enc_n_points=2,
        dec_n_points=3,
        num_queries=30,
    ),
    "refine-3-levels-small": dict(
        num_feature_levels=3,
        hidden_dim=96,
        nheads=6,
        enc_layers=2,
        dec_layers=3,
        dim_feedforward=160,
        enc_n_points=3,
        dec_n_points=2,
        num_queries=40,
        with_box_refine=True,
    ),
    # A fine-tuned UP-DETR (plain DETR layout, softmax + no-object), which has no official reference output.
    "updetr-detection-small": dict(
        family="up-detr",
        variant="detection",
        num_queries=20,
        num_feature_levels=1,
        pre_norm=False,
        num_patches=0,
        hidden_dim=64,
        nheads=4,
        enc_layers=2,
        dec_layers=2,
        dim_feedforward=128,
        enc_n_points=0,
        dec_n_points=0,
        num_classes=7,
    ),
}


def derived_checkpoint(reference: Path, name: str, work: Path):
    """Synthetic checkpoint of a derived config + expected outputs from our reference model."""
    from webdetr_tools.checkpoint import save_checkpoint
    from webdetr_tools.weights import synthetic_state_dict
    from webdetr_tools.config import ModelConfig
    from webdetr_tools.models import build_model, model_from_checkpoint

    if "family" in DERIVED[name]:  # a complete config: its own args, as a checkpoint of it would carry
        config = ModelConfig(**DERIVED[name])
        shapes = {k: list(v.shape) for k, v in build_model(config).state_dict().items()}
        state = synthetic_state_dict(shapes, seed=1)
        save_checkpoint(work / "checkpoint.pth", state, config.to_dict())
        return model_from_checkpoint(state, config.to_dict())[0]
    args = json.loads((reference / "args.json").read_text())
    args.update(DERIVED[name])
    base = ModelConfig(
        family="deformable-detr",
        variant="refine" if args.get("with_box_refine") else "plain",
        **{
            k: args[k]
            for k in (
                "hidden_dim",
                "nheads",
                "enc_layers",
                "dec_layers",
                "dim_feedforward",
                "num_queries",
                "num_feature_levels",
                "enc_n_points",
                "dec_n_points",
                "with_box_refine",
            )
        },
    )
    shapes = {k: list(v.shape) for k, v in build_model(base).state_dict().items()}
    state = synthetic_state_dict(shapes, seed=1)
    save_checkpoint(work / "checkpoint.pth", state, args)
    model, _ = model_from_checkpoint(state, args)
    return model


def source_hash(extra, with_models=False):
    digest = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    sources = sorted((TOOLS / "webdetr_tools" / "export").glob("*.py")) + [TOOLS / "webdetr_tools" / "weights.py"]
    if with_models:  # the UP-DETR export is built on the reference model and its config reader
        sources += sorted((TOOLS / "webdetr_tools" / "models").glob("*.py")) + [TOOLS / "webdetr_tools" / "config.py"]
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def export_package(args, reference: Path, out: Path, prefix: str, sized: bool):
    """Exports the package into `out` (via `out`.partial) with the image, patches and expected outputs."""
    # Imported here: a cache hit (most calls) needs none of them, and importing torch takes seconds.
    import numpy as np
    import torch
    from PIL import Image

    from webdetr_tools.checkpoint import save_checkpoint
    from webdetr_tools.export.exporter import export_checkpoint
    from webdetr_tools.export.package import IMAGENET_MEAN, IMAGENET_STD
    from webdetr_tools.weights import synthetic_state_dict

    torch.set_num_threads(2)
    # one package per variant/options: drop stale exports of the same variant to bound disk use
    for stale in args.cache.glob(f"{prefix}*"):
        # only this name's own keys: "deformable_plain-*" must not match "deformable_plain-64x96-*"
        if re.fullmatch(r"[0-9a-f]{16}(\.partial)?", stale.name[len(prefix) :]):
            shutil.rmtree(stale, ignore_errors=True)
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    checkpoint = work / "checkpoint.pth"
    model = None
    if args.derived:
        model = derived_checkpoint(reference, args.derived, work)
    else:
        shapes = json.loads((reference / "state_dict_shapes.json").read_text())
        state, official_args = synthetic_state_dict(shapes, seed=1), json.loads((reference / "args.json").read_text())
        save_checkpoint(checkpoint, state, official_args)
        if sized:
            from webdetr_tools.models import model_from_checkpoint

            model = model_from_checkpoint(state, official_args)[0].eval()
    size = {"height": args.height, "width": args.width} if sized else {}
    export_checkpoint(
        checkpoint,
        work,
        fp16=args.fp16,
        single_graph=not args.no_single_graph,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        **size,
    )
    checkpoint.unlink()
    picture = Image.open(args.shared / "reference" / "image.png").convert("RGB")
    if sized:
        picture = picture.resize((args.width, args.height), Image.BILINEAR)
    rgb = np.asarray(picture, dtype=np.float32) / 255
    image = ((rgb - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32).transpose(2, 0, 1)
    np.ascontiguousarray(image).tofile(work / "image.f32")
    if model is not None:
        pixels = torch.from_numpy(np.ascontiguousarray(image))[None]
        with torch.no_grad():
            if (reference / "patches.npy").is_file():  # UP-DETR pretraining: the reference query patches
                expected = model(pixels, torch.from_numpy(np.load(reference / "patches.npy").astype(np.float32)))
            else:
                expected = model(pixels)
        np.save(work / "pred_logits.npy", expected["pred_logits"].numpy())
        np.save(work / "pred_boxes.npy", expected["pred_boxes"].numpy())
    if (reference / "patches.npy").is_file():
        np.ascontiguousarray(np.load(reference / "patches.npy").astype(np.float32)).tofile(work / "patches.f32")
    work.rename(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", required=True)
    parser.add_argument("--shared", type=Path, default=TOOLS.parent.parent / "shared")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--no-single-graph", action="store_true")
    parser.add_argument("--derived", choices=sorted(DERIVED), help="a config derived from --variant's args")
    parser.add_argument("--height", type=int, help="input height (default: the reference image's 384)")
    parser.add_argument("--width", type=int, help="input width (default: the reference image's 512)")
    args = parser.parse_args()
    if (args.height is None) != (args.width is None):
        parser.error("give --height and --width together")
    sized = args.height is not None
    reference = args.shared / "reference" / args.variant
    described = {
        "variant": args.variant,
        "fp16": args.fp16,
        "single": not args.no_single_graph,
        "derived": DERIVED.get(args.derived),
        "args": json.loads((reference / "args.json").read_text()),
    }
    if sized:  # the default size keeps its old key, so existing caches stay valid
        described["size"] = [args.height, args.width]
    key = source_hash(described, with_models=(reference / "patches.npy").is_file() or bool(args.derived) or sized)
    name = (args.derived or args.variant) + (f"-{args.height}x{args.width}" if sized else "")
    out = args.cache / f"{name}{'-fp16' if args.fp16 else ''}-{key}"
    prefix = f"{name}{'-fp16' if args.fp16 else ''}-"
    if not (out / "manifest.json").is_file():
        with package_lock(args.cache, prefix):
            if not (out / "manifest.json").is_file():  # another caller may have finished it while we waited
                export_package(args, reference, out, prefix, sized)
    expected_dir = out if args.derived or sized else reference
    result = {
        "dir": str(out),
        "image": str(out / "image.f32"),
        "expected_logits": str(expected_dir / "pred_logits.npy"),
        "expected_boxes": str(expected_dir / "pred_boxes.npy"),
    }
    if (out / "patches.f32").is_file():
        result["patches"] = str(out / "patches.f32")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
