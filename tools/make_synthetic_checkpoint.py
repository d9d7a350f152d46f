"""Write an official-layout checkpoint ({'model': state_dict, 'args': Namespace}) with synthetic weights.

Usage: python3 tools/make_synthetic_checkpoint.py --reference-dir ../shared/reference/deformable_plain --out x.pth
       [--seed 1]
Weights follow the reference README rule (webdetr_tools.weights) for state_dict_shapes.json; args come
from args.json.
"""
import argparse
import json
from pathlib import Path


from webdetr_tools.checkpoint import save_checkpoint
from webdetr_tools.weights import synthetic_state_dict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--reference-dir", required=True, type=Path, help="folder with state_dict_shapes.json and args.json"
    )
    parser.add_argument("--out", required=True, type=Path, help="checkpoint file to write")
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args(argv)
    shapes = json.loads((opts.reference_dir / "state_dict_shapes.json").read_text())
    args = json.loads((opts.reference_dir / "args.json").read_text())
    state_dict = synthetic_state_dict(shapes, opts.seed)
    save_checkpoint(opts.out, state_dict, args)
    print(f"wrote {opts.out}: {len(state_dict)} tensors, " f"{sum(t.numel() for t in state_dict.values()):,} values")


if __name__ == "__main__":
    main()
