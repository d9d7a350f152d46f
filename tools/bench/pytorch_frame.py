"""PyTorch CPU frame time of a benchmark model, the CPU comparison of the model benchmark (bench/run-model-bench.mjs
--pytorch): the same checkpoint as the bench package, its forward from the model-size input tensor to logits and
boxes (preprocessing excluded, as in the bench's frames), with torch.set_num_threads equal to the page's ORT WASM
thread count. Prints one JSON object.

  PYTHONPATH=tools /usr/bin/python3 tools/bench/pytorch_frame.py --model detector-320 --threads 1 --rounds 5
  models: detector-<size> (tools/checkpoints/detector.pt), oneshot-k<K> (tools/checkpoints/oneshot.pt, K box patches),
          official-<plain|refine|two-stage>-<h>x<w> (the official-format R50 variant with ../shared/reference's
          synthetic weights, our reference model, equal to the official code)
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import torch

from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.ship.centernet import load_backbone
from webdetr_tools.ship.detector_package import load_detector
from webdetr_tools.models import model_from_checkpoint
from webdetr_tools.ship.oneshot_package import load_oneshot, reference_outputs
from webdetr_tools.weights import synthetic_state_dict

REPO_DIR = Path(__file__).resolve().parents[2]

# The bench's one-shot patches (bench/run-model-bench.mjs) relative to the coffee sample (640 x 427), as boxes.
ONESHOT_BOXES = [[110 / 640, 60 / 427, 260 / 640, 200 / 427], [20 / 640, 200 / 427, 110 / 640, 280 / 427]]


def forward_for(model_id: str):
    """A no-argument forward of the model on a fixed input, and the input size."""
    torch.manual_seed(0)
    if match := re.fullmatch(r"detector-(\d+)", model_id):
        size = int(match[1])
        model, _ = load_detector(REPO_DIR / "tools/checkpoints/detector.pt", load_backbone(fetch()))
        image = torch.rand(1, 3, size, size) * 255
        return lambda: model(image), size
    if match := re.fullmatch(r"oneshot-k(\d+)", model_id):
        slots = int(match[1])
        model, config, _ = load_oneshot(REPO_DIR / "tools/checkpoints/oneshot.pt")
        backbone = load_backbone(fetch())
        size = config["image_size"]
        image = torch.rand(1, 3, size, size) * 255
        boxes = torch.tensor([ONESHOT_BOXES[k % 2] if k < 2 else ONESHOT_BOXES[0] for k in range(slots)]).unsqueeze(0)
        return lambda: reference_outputs(model, backbone, image, boxes), size
    if match := re.fullmatch(r"official-(plain|refine|two-stage)-(\d+)x(\d+)", model_id):
        reference = REPO_DIR.parent / "shared/reference" / f"deformable_{match[1].replace('-', '_')}"
        shapes = json.loads((reference / "state_dict_shapes.json").read_text())
        args = json.loads((reference / "args.json").read_text())
        model, _ = model_from_checkpoint(synthetic_state_dict(shapes), args)
        model.eval()
        image = torch.randn(1, 3, int(match[2]), int(match[3]))
        return lambda: model(image), [int(match[2]), int(match[3])]
    raise SystemExit(
        f"no PyTorch counterpart for {model_id} (detector-<size>, oneshot-k<K>, official-<variant>-<h>x<w>)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    forward, size = forward_for(args.model)
    times = []
    with torch.no_grad():
        forward()  # warm-up
        for _ in range(args.rounds):
            started = time.perf_counter()
            forward()
            times.append((time.perf_counter() - started) * 1000)
    print(
        json.dumps(
            {
                "model": args.model,
                "threads": args.threads,
                "torch": torch.__version__,
                "inputSize": size,
                "frameMs": {
                    "median": statistics.median(times),
                    "min": min(times),
                    "max": max(times),
                    "count": len(times),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
