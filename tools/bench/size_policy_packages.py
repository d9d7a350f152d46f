"""Packages for the dynamic-shapes vs size-buckets measurement (test/bench/size-policy-bench.test.ts): one synthetic
checkpoint exported once with a shorter-side policy (dynamic shapes) and once per bucket as a fixed-size package at
exactly that size (static shapes: the best a bucket can do, a picture of exactly the bucket's size). Prints one JSON
line {"dynamic": dir, "fixed": {"HxW": dir}}.

    (cd tools && /usr/bin/python3 -m bench.size_policy_packages --out ../.cache/size-policy-bench --sizes 64x85,64x64)
"""
import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]


def checkpoint(shared, out, variant="deformable_two_stage", changes=None):
    """The aspect-ratio fixture's two-stage-small checkpoint (R50, 2+2 layers, 40 queries), saved to out."""
    from webdetr_tools.checkpoint import save_checkpoint
    from webdetr_tools.config import config_from_checkpoint
    from webdetr_tools.models import build_model
    from webdetr_tools.weights import synthetic_state_dict

    changes = changes if changes is not None else {"enc_layers": 2, "dec_layers": 2, "num_queries": 40}
    folder = Path(shared) / "reference" / variant
    args = json.loads((folder / "args.json").read_text())
    shapes = json.loads((folder / "state_dict_shapes.json").read_text())
    config = replace(config_from_checkpoint(synthetic_state_dict(shapes), args), **changes)
    state = synthetic_state_dict({k: list(v.shape) for k, v in build_model(config).state_dict().items()}, seed=1)
    args.update(changes)
    save_checkpoint(out, state, args)
    return out


def main(argv=None):
    import torch

    from webdetr_tools.export.exporter import export_checkpoint

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", default="64x85,85x64,64x64", help="bucket sizes HxW")
    parser.add_argument("--shortest", type=int, default=64)
    parser.add_argument("--longest", type=int, default=107)
    parser.add_argument("--shared", type=Path, default=TOOLS.parent.parent / "shared")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    path = checkpoint(args.shared, args.out / "checkpoint.pth")
    quiet = dict(single_graph=False, progress=lambda line: print(line, file=sys.stderr, flush=True))
    result = {"dynamic": str(args.out / "dynamic"), "fixed": {}}
    if not (args.out / "dynamic" / "manifest.json").is_file():
        policy = {"kind": "shorter-side", "shortest": args.shortest, "longest": args.longest}
        export_checkpoint(path, args.out / "dynamic", size_policy=policy, **quiet)
    for size in args.sizes.split(","):
        height, width = (int(v) for v in size.split("x"))
        target = args.out / f"fixed-{height}x{width}"
        if not (target / "manifest.json").is_file():
            export_checkpoint(path, target, height=height, width=width, **quiet)
        result["fixed"][size] = str(target)
    path.unlink()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
