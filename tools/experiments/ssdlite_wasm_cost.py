"""What SSDLite MobileNetV2 (teacher/ssdlite.py) would cost as a detector's encoder input in the browser (issue 34's
next step: proposals from SSDLite instead of CenterNet): its whole graph (backbone + box and class heads at 300x300)
exported to ONNX as the package exporter would (TF SAME Pads folded into the Convs, export/onnx_fold.py), timed warm
on onnxruntime-web WASM, 1 thread, alternating with the `encoder_input` graphs of other packages
(graph_wasm_time.mjs). Writes results/ssdlite_wasm_cost.json.

    cd tools && /usr/bin/python3 -m experiments.ssdlite_wasm_cost \
        --compare ../public/models/detector/encoder_input.onnx --compare /tmp/v1/encoder_input.onnx
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import torch

from webdetr_tools.export.onnx_fold import fold_pads_in_file
from webdetr_tools.export.onnx_io import export_module
from webdetr_tools.teacher.ssdlite import INPUT_SIZE, SsdLite

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent


def export(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    model = SsdLite().eval()
    image = torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE) * 255
    export_module(model, [image], ["image"], ["encodings", "logits"], out)  # the package exporter's opset and folding
    fold_pads_in_file(out)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", type=Path, action="append", default=[], help="other .onnx graphs to time")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "ssdlite_cost")
    parser.add_argument("--out", type=Path, default=TOOLS / "experiments" / "results" / "ssdlite_wasm_cost.json")
    args = parser.parse_args()
    graph = export(args.cache / "ssdlite_folded.onnx")
    command = ["node", str(TOOLS / "experiments" / "graph_wasm_time.mjs"), str(args.rounds), str(args.runs)]
    command += [str(graph), *[str(p.resolve()) for p in args.compare]]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True)
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    report = {
        "about": "warm WASM run of single graphs (onnxruntime-web, 1 thread), alternating; random 0-255 inputs",
        "ssdlite": {"input": f"1x3x{INPUT_SIZE}x{INPUT_SIZE}", "bytes": graph.stat().st_size},
        "load_1min": os.getloadavg()[0],
        "graphs": rows,
    }
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
