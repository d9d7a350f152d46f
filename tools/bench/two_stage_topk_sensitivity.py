#!/usr/bin/env python3
"""How far a two-stage Deformable-DETR's outputs move when its encoder memory moves by float noise.

Two-stage picks its 300 queries by top-k over the encoder's proposal scores. Where the 300th and 301st
scores (or two neighbours inside the top 300) are closer than two implementations' rounding differences,
those implementations pick or order different proposals, and a slot's logits and boxes differ by O(1)
although both are right. This tool measures, in PyTorch on a benchmark package's input (image.f32):
the score gaps at and inside the top-k boundary, and max |diff| of the outputs after adding Gaussian noise
of a few sizes to the encoder memory (the input of the proposal head).

    PYTHONPATH=tools /usr/bin/python3 tools/bench/two_stage_topk_sensitivity.py \\
        --package .cache/bench-models/official/deformable_two_stage-384x512-<hash> [--out result.json]
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch


from webdetr_tools.models import model_from_checkpoint
from webdetr_tools.weights import synthetic_state_dict

TOOLS = Path(__file__).resolve().parents[1]


def sensitivity(model, image: torch.Tensor, noise_levels, seed: int = 0) -> dict:
    """Score gaps at the top-k boundary and output diffs under memory noise (model: two-stage, eval)."""
    exact = model.two_stage_queries
    captured = {}

    def capturing(memory, shapes):
        captured.update(exact(memory, shapes))
        return captured

    with torch.no_grad():
        model.two_stage_queries = capturing
        reference = model(image)
        scores = captured["enc_outputs_class"][0, :, 0].sort(descending=True).values.numpy()
        k = captured["topk_indices"].shape[1]
        gaps = -np.diff(scores[: k + 1])
        report = {
            "tokens": int(scores.size),
            "k": int(k),
            "boundary_gap": float(scores[k - 1] - scores[k]),
            "smallest_gap_within_top_k": float(gaps[:-1].min()),
            "noise": [],
        }
        for eps in noise_levels:
            generator = torch.Generator().manual_seed(seed)
            model.two_stage_queries = lambda memory, shapes, eps=eps: exact(
                memory + eps * torch.randn(memory.shape, generator=generator), shapes
            )
            out = model(image)
            report["noise"].append(
                {
                    "std": eps,
                    "max_abs_diff_logits": float((out["pred_logits"] - reference["pred_logits"]).abs().max()),
                    "max_abs_diff_boxes": float((out["pred_boxes"] - reference["pred_boxes"]).abs().max()),
                }
            )
        model.two_stage_queries = exact
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", type=Path, required=True, help="a benchmark package of the two-stage variant")
    parser.add_argument(
        "--reference",
        type=Path,
        default=TOOLS.parents[1] / "shared" / "reference" / "deformable_two_stage",
        help="the official variant's args.json and state_dict_shapes.json (synthetic weights, seed 1)",
    )
    parser.add_argument("--noise", default="1e-6,1e-5,1e-4")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    manifest = json.loads((args.package / "manifest.json").read_text())
    size = manifest["input"]["sizePolicy"]
    shapes = json.loads((args.reference / "state_dict_shapes.json").read_text())
    official_args = json.loads((args.reference / "args.json").read_text())
    model = model_from_checkpoint(synthetic_state_dict(shapes, seed=1), official_args)[0].eval()
    image = torch.from_numpy(
        np.fromfile(args.package / "image.f32", np.float32).reshape(1, 3, size["height"], size["width"])
    )
    report = {"package": args.package.name, **sensitivity(model, image, [float(v) for v in args.noise.split(",")])}
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
