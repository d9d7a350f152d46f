#!/usr/bin/env python3
"""Export an official RT-DETR checkpoint (lyuwenyu/RT-DETR rtdetr_pytorch v1 or rtdetrv2_pytorch v2 .pth) to a
webdetr model package: split graphs around the decoder's deformable cross-attention (run by the ms_deform_attn_rt
kernel) plus the single-graph baseline.

    /usr/bin/python3 tools/export_rtdetr.py rtdetrv2_r18vd_120e_coco.pth --out public/models/rtdetrv2-r18 \
        [--height 640 --width 640] [--config '{"num_points": [4, 4, 4], "cross_attn_method": "discrete"}'] [--fp16]

--config gives what the weights cannot say, with the official config keys' meaning (defaults: the official
configs'): dec_heads (8), enc_heads (8), num_points (4 per level), cross_attn_method (default | discrete),
query_select_method (default | one2many | agnostic), queries (300), eval_idx (-1), enc_act, act.
Class names: --class-names file (JSON list), else COCO's 80 for an 80-class model, else class_<i>.
"""
import argparse
import json
from pathlib import Path

from webdetr_tools.export.rtdetr_export import export_rtdetr_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--height", type=int, default=640)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--config", default="{}", help="JSON object of config overrides")
    parser.add_argument("--class-names", type=Path, help="JSON list of class names")
    parser.add_argument("--fp16", action="store_true", help="fp16 weights (fp32 compute)")
    parser.add_argument("--no-single-graph", action="store_true")
    args = parser.parse_args(argv)
    names = json.loads(args.class_names.read_text()) if args.class_names else None
    export_rtdetr_checkpoint(
        args.checkpoint,
        args.out,
        args.height,
        args.width,
        json.loads(args.config),
        names,
        fp16=args.fp16,
        single_graph=not args.no_single_graph,
    )


if __name__ == "__main__":
    main()
