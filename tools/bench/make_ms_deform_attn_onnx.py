#!/usr/bin/env python3
"""Export multi-scale deformable attention as a plain ONNX graph (GridSample per level + weighting).

This is what torch.onnx gives for Deformable-DETR's MSDeformAttn when no custom op is used: the
benchmark runs these graphs with onnxruntime-web's WebGPU EP next to our WGSL kernel.

Two graphs per case (fixed shapes, opset 16, no weights):
  core  : value [N,S,M,D], sampling_locations [N,Lq,M,L,P,2], attention_weights [N,Lq,M,L,P]
          -> output [N,Lq,M*D]  (the ms_deform_attn_core_pytorch formula)
  fused : value [N,S,M,D], reference_points [N,Lq,L,R], sampling_offsets [N,Lq,M,L,P,2],
          attention_logits [N,Lq,M,L*P] -> output [N,Lq,M*D]  (softmax over L*P + location
          arithmetic of MSDeformAttn.forward + the core), apples to apples with our fused kernel.

Usage:
  /usr/bin/python3 tools/bench/make_ms_deform_attn_onnx.py --out bench/graphs
  /usr/bin/python3 tools/bench/make_ms_deform_attn_onnx.py --case small-encoder --out /tmp/g
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

# Level shapes (H, W) of the ResNet C3..C5 + extra stride-2 conv maps for the benchmark inputs.
LEVELS_800x1066 = [(100, 134), (50, 67), (25, 34), (13, 17)]
LEVELS_384x512 = [(48, 64), (24, 32), (12, 16), (6, 8)]

# name -> (levels, queries (None = S), reference dim)
CASES = {
    "encoder": (LEVELS_800x1066, None, 2),
    "small-encoder": (LEVELS_384x512, None, 2),
    "decoder": (LEVELS_800x1066, 300, 4),
}
HEADS, HEAD_DIM, POINTS, BATCH = 8, 32, 4, 1


def deform_attn_core(value, levels, locations, weights):
    """Bilinear samples of every level (grid_sample, zeros padding, align_corners=False), weighted and summed."""
    n, _, m, d = value.shape
    _, lq, _, num_levels, p, _ = locations.shape
    grids = locations * 2.0 - 1.0
    per_level = []
    start = 0
    for level, (h, w) in enumerate(levels):
        # [N, H*W, M, D] -> [N*M, D, H, W]: one image per (batch, head).
        value_l = value[:, start : start + h * w].permute(0, 2, 3, 1).reshape(n * m, d, h, w)
        start += h * w
        # [N, Lq, M, P, 2] -> [N*M, Lq, P, 2]
        grid_l = grids[:, :, :, level].permute(0, 2, 1, 3, 4).reshape(n * m, lq, p, 2)
        per_level.append(F.grid_sample(value_l, grid_l, mode="bilinear", padding_mode="zeros", align_corners=False))
    samples = torch.stack(per_level, dim=-2).reshape(n * m, d, lq, num_levels * p)
    w = weights.permute(0, 2, 1, 3, 4).reshape(n * m, 1, lq, num_levels * p)
    out = (samples * w).sum(-1).reshape(n, m * d, lq)
    return out.transpose(1, 2).contiguous()


class CoreGraph(torch.nn.Module):
    def __init__(self, levels):
        super().__init__()
        self.levels = levels

    def forward(self, value, sampling_locations, attention_weights):
        return deform_attn_core(value, self.levels, sampling_locations, attention_weights)


class FusedGraph(torch.nn.Module):
    """MSDeformAttn.forward between the two Linear layers and output_proj: softmax + locations + core."""

    def __init__(self, levels, points):
        super().__init__()
        self.levels = levels
        self.points = points
        # (W_l, H_l) per level: offsets are in level pixels for 2-d reference points.
        self.register_buffer("normalizer", torch.tensor([[w, h] for h, w in levels], dtype=torch.float32))

    def forward(self, value, reference_points, sampling_offsets, attention_logits):
        n, lq, m, num_levels, p, _ = sampling_offsets.shape
        weights = F.softmax(attention_logits, dim=-1).reshape(n, lq, m, num_levels, p)
        if reference_points.shape[-1] == 2:
            locations = (
                reference_points[:, :, None, :, None, :]
                + sampling_offsets / self.normalizer[None, None, None, :, None, :]
            )
        else:
            centre = reference_points[:, :, None, :, None, :2]
            size = reference_points[:, :, None, :, None, 2:]
            locations = centre + sampling_offsets / self.points * size * 0.5
        return deform_attn_core(value, self.levels, locations, weights)


def case_shapes(name):
    levels, queries, ref_dim = CASES[name]
    tokens = sum(h * w for h, w in levels)
    lq = tokens if queries is None else queries
    num_levels = len(levels)
    return {
        "levels": [list(hw) for hw in levels],
        "tokens": tokens,
        "queries": lq,
        "referenceDim": ref_dim,
        "batch": BATCH,
        "heads": HEADS,
        "headDim": HEAD_DIM,
        "points": POINTS,
        "inputs": {
            "core": {
                "value": [BATCH, tokens, HEADS, HEAD_DIM],
                "sampling_locations": [BATCH, lq, HEADS, num_levels, POINTS, 2],
                "attention_weights": [BATCH, lq, HEADS, num_levels, POINTS],
            },
            "fused": {
                "value": [BATCH, tokens, HEADS, HEAD_DIM],
                "reference_points": [BATCH, lq, num_levels, ref_dim],
                "sampling_offsets": [BATCH, lq, HEADS, num_levels, POINTS, 2],
                "attention_logits": [BATCH, lq, HEADS, num_levels * POINTS],
            },
        },
        "output": [BATCH, lq, HEADS * HEAD_DIM],
    }


def export_case(name, out_dir, opset):
    shapes = case_shapes(name)
    levels = [tuple(hw) for hw in shapes["levels"]]
    written = {}
    for kind, module in (("core", CoreGraph(levels)), ("fused", FusedGraph(levels, POINTS))):
        # Small random inputs only trace the graph; shapes are fixed, no weights are stored.
        example = tuple(torch.rand(*dims) for dims in shapes["inputs"][kind].values())
        path = os.path.join(out_dir, f"ms_deform_attn_{kind}_{name}.onnx")
        torch.onnx.export(
            module.eval(),
            example,
            path,
            opset_version=opset,
            do_constant_folding=True,
            input_names=list(shapes["inputs"][kind]),
            output_names=["output"],
        )
        written[kind] = os.path.basename(path)
    return {**shapes, "graphs": written}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench/graphs", help="output folder (default bench/graphs)")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="case(s) to export (default: all)")
    parser.add_argument("--opset", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    cases = {name: export_case(name, args.out, args.opset) for name in (args.case or sorted(CASES))}
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"opset": args.opset, "torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    for name, case in cases.items():
        print(f"{name}: S={case['tokens']} Lq={case['queries']} R={case['referenceDim']} -> {case['graphs']}")


if __name__ == "__main__":
    main()
