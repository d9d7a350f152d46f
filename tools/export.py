#!/usr/bin/env python3
"""Export a Deformable-DETR / UP-DETR checkpoint to a webdetr model package (manifest + ONNX graphs).

    /usr/bin/python3 tools/export.py checkpoint.pth --out public/models/ddetr [--height 800 --width 1066] [--fp16]
    /usr/bin/python3 tools/export.py hf-model-dir/ --out pkg     # Hugging Face: config.json + model.safetensors or
                                                                # pytorch_model.bin (the directory or either file)

The format is detected: an official .pth ({'model': ..., 'args': ...}) or a Hugging Face Deformable-DETR checkpoint
(docs/bring-your-own.md lists what is supported). Class names come from --class-names, else the Hugging Face
config's id2label, else COCO's 91 ids.
"""
import argparse
import json
from pathlib import Path


import torch

from webdetr_tools.export.exporter import export_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="official .pth, or a Hugging Face checkpoint directory / file")
    parser.add_argument("--out", type=Path, required=True, help="package directory to write")
    parser.add_argument("--height", type=int, default=384)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--family", choices=["deformable-detr", "up-detr"], help="override the detected family")
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
        single_graph=not args.no_single_graph,
        class_names=names,
        family=args.family,
        overrides=overrides,
        progress=lambda line: print(line, flush=True),
    )


if __name__ == "__main__":
    main()
