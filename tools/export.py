#!/usr/bin/env python3
"""Export a Deformable-DETR / UP-DETR checkpoint to a webdetr model package (manifest + ONNX graphs).

    /usr/bin/python3 tools/export.py checkpoint.pth --out public/models/ddetr [--height 800 --width 1066] [--fp16]
    /usr/bin/python3 tools/export.py hf-model-dir/ --out pkg     # Hugging Face: config.json + model.safetensors or
                                                                # pytorch_model.bin (the directory or either file)
    /usr/bin/python3 tools/export.py checkpoint.pth --out pkg --shortest 800 --longest 1333
    /usr/bin/python3 tools/export.py hf-model-dir/ --out pkg --size-policy preprocessor
    /usr/bin/python3 tools/export.py rtdetrv2_r18vd_120e_coco.pth --out pkg   # RT-DETR v1/v2 (lyuwenyu/RT-DETR .pth):
        # 640x640 and the official preprocessing; --rtdetr-config '{"cross_attn_method": "discrete"}' etc.
    /usr/bin/python3 tools/export.py hf-rtdetr-dir/ --out pkg   # Hugging Face RTDetr(V2)ForObjectDetection:
        # config.json gives the architecture, preprocessor_config.json the size (640x640) and pixel transform

Size policy: fixed (--height/--width, default 384x512; every picture is stretched to it) or shorter-side
(--shortest S --longest L, or --size-policy preprocessor for a Hugging Face checkpoint's preprocessor_config.json:
the official resize keeping the aspect ratio, graphs with dynamic shapes; Deformable-DETR, split graphs only: no
single graph is written).

The format is detected: an official .pth ({'model': ..., 'args': ...}) or a Hugging Face Deformable-DETR checkpoint
(docs/bring-your-own.md lists what is supported). Class names come from --class-names, else the Hugging Face
config's id2label, else COCO's 91 ids.
"""
import argparse
import json
import sys
from pathlib import Path


import torch

from webdetr_tools.export.exporter import export_checkpoint
from webdetr_tools.export.huggingface_rtdetr import export_hf_rtdetr, is_huggingface_rtdetr
from webdetr_tools.export.rtdetr_export import export_rtdetr_checkpoint, is_rtdetr_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="official .pth, or a Hugging Face checkpoint directory / file")
    parser.add_argument("--out", type=Path, required=True, help="package directory to write")
    parser.add_argument("--height", type=int, default=384, help="fixed size policy: input height")
    parser.add_argument("--width", type=int, default=512, help="fixed size policy: input width")
    parser.add_argument("--shortest", type=int, help="shorter-side size policy: the shorter side (official: 800)")
    parser.add_argument("--longest", type=int, default=1333, help="shorter-side size policy: longer side at most")
    parser.add_argument(
        "--size-policy",
        choices=["fixed", "shorter-side", "preprocessor"],
        help="default: shorter-side when --shortest is given, else fixed; preprocessor: a Hugging Face checkpoint's",
    )
    parser.add_argument(
        "--family", choices=["deformable-detr", "up-detr", "rt-detr"], help="override the detected family"
    )
    parser.add_argument(
        "--rtdetr-config",
        default="{}",
        help='RT-DETR: JSON of what the weights cannot say, e.g. \'{"num_points": [4, 4, 4], "cross_attn_method": '
        '"discrete"}\' (tools/export_rtdetr.py lists the keys); RT-DETR exports at 640x640 unless --height/--width',
    )
    parser.add_argument(
        "--variant",
        choices=["plain", "box-refine", "two-stage"],
        help="override the Deformable-DETR variant read from args",
    )
    parser.add_argument("--fp16", action="store_true", help="store weights as fp16 (compute stays fp32)")
    graphs = parser.add_mutually_exclusive_group()
    graphs.add_argument("--single-graph-only", action="store_true")
    graphs.add_argument("--no-single-graph", action="store_true")
    parser.add_argument("--class-names", type=Path, help="JSON list or one name per line")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = None
    if args.class_names:
        text = args.class_names.read_text()
        names = json.loads(text) if text.lstrip().startswith("[") else [l for l in text.splitlines() if l.strip()]
    policy = args.size_policy or ("shorter-side" if args.shortest is not None else "fixed")
    if policy == "shorter-side" and args.shortest is None:
        parser.error("--size-policy shorter-side needs --shortest (official: --shortest 800 --longest 1333)")
    size_policy = (
        None
        if policy == "fixed"
        else "preprocessor"
        if policy == "preprocessor"
        else {"kind": "shorter-side", "shortest": args.shortest, "longest": args.longest}
    )
    if args.family in (None, "rt-detr") and is_huggingface_rtdetr(args.checkpoint):
        # Hugging Face RTDetr(V2)ForObjectDetection: the size comes from preprocessor_config.json unless given
        given = [a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:])]
        export_hf_rtdetr(
            args.checkpoint,
            args.out,
            height=args.height if "--height" in given else None,
            width=args.width if "--width" in given else None,
            class_names_=names,
            fp16=args.fp16,
            split=not args.single_graph_only,
            single_graph=not args.no_single_graph,
            progress=lambda line: print(line, flush=True),
        )
        return
    if args.family == "rt-detr" or (args.family is None and is_rtdetr_checkpoint(args.checkpoint)):
        given = [a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:])]
        export_rtdetr_checkpoint(
            args.checkpoint,
            args.out,
            height=args.height if "--height" in given else 640,
            width=args.width if "--width" in given else 640,
            overrides=json.loads(args.rtdetr_config),
            class_names=names,
            fp16=args.fp16,
            split=not args.single_graph_only,
            single_graph=not args.no_single_graph,
            progress=lambda line: print(line, flush=True),
        )
        return
    overrides = {}
    if args.variant:
        overrides = {"with_box_refine": args.variant != "plain", "two_stage": args.variant == "two-stage"}
    export_checkpoint(
        args.checkpoint,
        args.out,
        height=args.height,
        width=args.width,
        fp16=args.fp16,
        split=not args.single_graph_only,
        # the single GridSample graph has fixed level shapes: shorter-side packages are split-only
        single_graph=not args.no_single_graph and (size_policy is None or args.single_graph_only),
        class_names=names,
        family=args.family,
        overrides=overrides,
        progress=lambda line: print(line, flush=True),
        size_policy=size_policy,
    )


if __name__ == "__main__":
    main()
