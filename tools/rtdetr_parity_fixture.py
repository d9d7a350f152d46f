#!/usr/bin/env python3
"""Test fixture for the RT-DETR parity tests: a small synthetic official-layout checkpoint (r18vd backbone, narrow
hybrid encoder and decoder; tools/webdetr_tools/rtdetr/synthetic.py) saved as .pth, exported through the exporter's
checkpoint path to a package cached under --cache keyed by the exporter sources + variant + size, with a seeded
image (raw float32 [1, 3, H, W], RGB / 255 as RT-DETR takes it) and the expected outputs of our PyTorch model (.npy;
equal to the official code, tools/tests/test_rtdetr_model.py). When a lyuwenyu/RT-DETR snapshot is present the
official code's outputs on the same image are compared too and the difference printed (official_logits /
official_boxes). Prints one JSON line {"dir", "image", "expected_logits", "expected_boxes", ...}.

    /usr/bin/python3 tools/rtdetr_parity_fixture.py --variant v2 --cache node_modules/.cache/webdetr-export \
        [--height 96 --width 128] [--no-single-graph]

Variants: v2 (points per level [4, 2, 3]), v2-discrete (v2's discrete sampling), v1 (4 points per level),
v2-r18vd-coco (the official rtdetrv2_r18vd_120e_coco architecture with synthetic weights, for benchmarks).
"""
import argparse
import contextlib
import fcntl
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from webdetr_tools.export.rtdetr_export import build_rtdetr, export_rtdetr_checkpoint

TOOLS = Path(__file__).resolve().parent
VARIANTS = {
    "v2": ("v2", {}),
    "v2-discrete": ("v2", {"cross_attn_method": "discrete"}),
    "v1": ("v1", {}),
    # The official rtdetrv2_r18vd_120e_coco architecture (synthetic weights): for benchmarks at 640x640.
    "v2-r18vd-coco": (
        "v2",
        dict(
            hidden=256,
            enc_heads=8,
            enc_ffn=1024,
            depth_mult=1.0,
            dec_heads=8,
            dec_ffn=1024,
            dec_layers=3,
            queries=300,
            num_classes=80,
            num_points=[4, 4, 4],
        ),
    ),
}
# What the weights cannot say, passed to the exporter as its --config.
UNSAID = ["dec_heads", "enc_heads", "num_points", "cross_attn_method", "queries"]


def sources_digest():
    digest = hashlib.sha256()
    files = sorted((TOOLS / "webdetr_tools" / "rtdetr").glob("*.py")) + [
        TOOLS / "webdetr_tools" / "export" / name
        for name in ("rtdetr_segments.py", "rtdetr_export.py", "onnx_io.py", "plan.py", "manifest.py")
    ]
    for path in files + [Path(__file__), TOOLS.parent / "schemas" / "manifest.schema.json"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--no-single-graph", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    from webdetr_tools.rtdetr.synthetic import synthetic_checkpoint

    version, extra = VARIANTS[args.variant]
    single = not args.no_single_graph
    key = f"rtdetr-{args.variant}-{args.height}x{args.width}{'' if single else '-split'}-{sources_digest()}"
    root = args.cache.resolve() / key
    root.mkdir(parents=True, exist_ok=True)
    result = {
        "dir": str(root / "package"),
        "image": str(root / "image.f32"),
        "expected_logits": str(root / "expected_logits.npy"),
        "expected_boxes": str(root / "expected_boxes.npy"),
    }
    with open(root / ".lock", "w") as lock, contextlib.ExitStack():
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "done.json"
        if not done.exists():
            state_dict, cfg = synthetic_checkpoint(version, seed=7, **extra)
            overrides = {k: cfg[k] for k in UNSAID}
            torch.save({"model": state_dict}, root / "synthetic.pth")
            export_rtdetr_checkpoint(
                root / "synthetic.pth",
                root / "package",
                args.height,
                args.width,
                overrides,
                single_graph=single,
                progress=lambda line: None,
            )
            image = torch.rand(1, 3, args.height, args.width, generator=torch.Generator().manual_seed(11))
            image.numpy().astype("<f4").tofile(root / "image.f32")
            model, _ = build_rtdetr(state_dict, overrides)
            with torch.no_grad():
                logits, boxes = model(image)
            np.save(root / "expected_logits.npy", logits.numpy().astype(np.float32))
            np.save(root / "expected_boxes.npy", boxes.numpy().astype(np.float32))
            info = {}
            try:
                from webdetr_tools.rtdetr.official import DEFAULT_SNAPSHOT, build_official_model, load_official

                if DEFAULT_SNAPSHOT.is_dir():
                    official = build_official_model(load_official(version), cfg)
                    official.load_state_dict(state_dict, strict=True)
                    with torch.no_grad():
                        want_logits, want_boxes = official(image)
                    info["official_logits"] = float((want_logits - logits).abs().max())
                    info["official_boxes"] = float((want_boxes - boxes).abs().max())
            except Exception as error:  # the comparison is informative only; the fixture stands without it
                info["official_error"] = repr(error)
            done.write_text(json.dumps(info))
        result.update(json.loads(done.read_text()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
