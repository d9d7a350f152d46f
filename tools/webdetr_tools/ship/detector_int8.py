"""Which weights of the v3 detector package are stored as int8 (export/int8.py), and putting them on the grid.

With the crop check's classifier the package would be 24 MB in fp16 against the issue's 15 MB (README-detector-v2
§12), so:
- **EfficientNet-B0** (the crop check): every convolution (depthwise included) and the dense layer, per output
  channel. It keeps the fp32 model's verdicts and held-out AP (§12).
- **The detector's input projections** (three 1x1 convolutions, 0.3 M parameters) and its linear layers.
- **SSDLite:** the pointwise and full convolutions (depthwise ones stay fp16; int8 there cost 1.9 coco128 AP), except
  the ones most sensitive to int8. Those are ranked by how much rounding each one alone moves SSDLite's outputs (taps,
  boxes, logits; mean squared error over each output's variance) on seeded unlabeled photos, never evaluated ones. The
  top tensors are kept fp16 until `budget` parameters are used. The ranking is written to
  tools/configs/detector_v3_int8.json by this module's command, so a build does not recompute it.

    cd tools && /usr/bin/python3 -m webdetr_tools.ship.detector_int8 --out configs/detector_v3_int8.json

API
  ssd_candidates(ssd) -> [(name, tensor)] pointwise / full conv weights of SsdInputs' graph
  classifier_candidates(classifier) -> [(name, tensor, axis)]
  rank_ssd(ssd, images) -> [(name, parameters, error)] most sensitive first
  apply_int8(ssd, classifier, keep_fp16) -> [tensor] every tensor put on its int8 grid
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..export.int8 import quantize_int8_

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "detector_v3_int8.json"


def ssd_candidates(ssd) -> list:
    return [
        (name, t)
        for name, t in ssd.named_parameters()
        if t.dim() == 4 and t.shape[0] > 1 and t.shape[1] > 1 and t.numel() >= 256
    ]


def classifier_candidates(classifier) -> list:
    """4-D conv weights along their output axis; a 2-D [in, out] dense weight along its columns."""
    out = []
    for name, t in classifier.named_parameters():
        if t.dim() == 4 and t.shape[0] > 1 and t.numel() >= 256:
            out.append((name, t, 0))
        elif t.dim() == 2 and t.numel() >= 256:
            out.append((name, t, 1))
    return out


@torch.no_grad()
def rank_ssd(ssd, images: torch.Tensor) -> list:
    reference = [o.clone() for o in ssd(images)]
    variance = [r.var() for r in reference]
    rows = []
    for name, tensor in ssd_candidates(ssd):
        kept = tensor.clone()
        quantize_int8_(tensor)
        outputs = ssd(images)
        error = sum(((o - r) ** 2).mean() / v for o, r, v in zip(outputs, reference, variance)) / len(reference)
        rows.append((name, int(tensor.numel()), float(error)))
        tensor.copy_(kept)
    return sorted(rows, key=lambda r: -r[2])


def keep_within(ranked: list, budget: int) -> list:
    """The most sensitive tensors, in rank order, whose parameters fit the budget."""
    kept, used = [], 0
    for name, numel, _ in ranked:
        if used + numel <= budget:
            kept.append(name)
            used += numel
    return kept


@torch.no_grad()
def apply_int8(ssd, classifier, keep_fp16, model=None) -> list:
    """Put on their int8 grid: SSDLite's candidates not in keep_fp16, every classifier candidate, and (model given)
    the detector's input projections (1x1 convolutions from SSDLite's taps to the transformer's width) and the
    weights of its linear layers (encoder, decoder, heads; per output row)."""
    keep = set(keep_fp16)
    done = []
    if model is not None:
        for conv in model.input_proj:
            done.append(quantize_int8_(conv[0].weight))
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module.weight.numel() >= 256:
                done.append(quantize_int8_(module.weight))
    for name, tensor in ssd_candidates(ssd):
        if name not in keep:
            done.append(quantize_int8_(tensor))
    if classifier is not None:
        for _, tensor, axis in classifier_candidates(classifier):
            done.append(quantize_int8_(tensor, axis))
    return done


def load_keep(path: Path = CONFIG) -> list:
    return json.loads(Path(path).read_text())["ssdlite_keep_fp16"]


def main(argv=None):
    from PIL import Image

    from ..data.datasets import load_unlabeled
    from ..detector_v2.ssd_views import SsdInputs
    from .inputs import model_input

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CONFIG.parents[2].parent / "shared" / "data")
    parser.add_argument("--photos", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget", type=int, default=1_500_000, help="SSDLite parameters kept fp16")
    parser.add_argument("--out", type=Path, default=CONFIG)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    ssd = SsdInputs().eval()
    photos = load_unlabeled(args.data / "unlabeled")
    pick = [photos[j] for j in sorted(np.random.RandomState(args.seed).permutation(len(photos))[: args.photos])]
    images = torch.cat([model_input(Image.open(p).convert("RGB"), 300) for p in pick])
    ranked = rank_ssd(ssd, images)
    kept = keep_within(ranked, args.budget)
    record = {
        "about": "detector v3 int8 weights: SSDLite tensors kept fp16 (webdetr_tools/ship/detector_int8.py)",
        "photos": {"set": "unlabeled", "count": args.photos, "seed": args.seed},
        "budget_parameters": args.budget,
        "ssdlite_keep_fp16": kept,
        "ranking": [{"name": n, "parameters": k, "error": round(e, 8)} for n, k, e in ranked],
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{len(kept)} SSDLite tensors kept fp16 of {len(ranked)}: {args.out}")


if __name__ == "__main__":
    main()
