#!/usr/bin/env python3
"""WASM frame time of detector packages side by side, in Node through the CLI (onnxruntime-web, 1 thread, the
WebAssembly deformable-attention kernel): each package runs the same photo `--frames` times in one CLI call (one
model load); the first frame is cold and left out; packages alternate for `--rounds` rounds so a busy machine
slows them alike. Reports the median warm frame (timings.total: preprocessing + graphs + kernels + postprocess)
and the median per stage group (and the fastest frame).

    /usr/bin/python3 tools/bench/detector_frames.py --model public/models/detector --model .cache/v2b/detector \\
        [--image public/samples/astronaut.jpg] [--frames 8] [--rounds 2] [--out results.json]
"""
import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GROUPS = ("preprocess", "backbone", "encoder", "decoder", "postprocess", "total")


def frames(model: Path, image: Path, count: int) -> list[dict]:
    command = ["node", str(REPO / "bin" / "webdetr.mjs"), "detect", *[str(image)] * count, "--model", str(model)]
    command += ["--json", "--backend", "wasm", "--threshold", "0.3"]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True)
    return [r["timings"] for r in json.loads(run.stdout)["results"]][1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--image", type=Path, default=REPO / "public" / "samples" / "astronaut.jpg")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    warm = {str(m): [] for m in args.model}
    for _ in range(args.rounds):
        for model in args.model:
            warm[str(model)] += frames(model, args.image, args.frames)
    report = {"image": str(args.image), "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0], "models": {}}
    for model, timings in warm.items():
        report["models"][model] = {
            "frames": len(timings),
            **{f"{g}_ms": round(statistics.median(t.get(g, 0.0) for t in timings), 1) for g in GROUPS},
            # the fastest frame: on a shared machine the least disturbed one, as comparable as medians
            **{f"{g}_min_ms": round(min(t.get(g, 0.0) for t in timings), 1) for g in ("backbone", "total")},
        }
        print(model, json.dumps(report["models"][model]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
