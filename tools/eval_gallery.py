#!/usr/bin/env python3
"""A detector package on the "first photos" gallery (tools/gallery/first_photos.json), through the webdetr
CLI (Node, WASM: the browser's engine), at the package's suggested threshold (manifest
output.scoreThreshold) unless --threshold. Protocol: webdetr_tools/evaluation/gallery.py.

    /usr/bin/python3 tools/eval_gallery.py [--model public/models/detector] [--out tools/results/gallery_shipped.json]

Prints one line per picture (right or what went wrong) and the totals; the issue's bar is >= 90% of the
photos fully right, nothing on >= 10 object-free pictures, no duplicates.
"""
import argparse
import json
import subprocess
from pathlib import Path

from webdetr_tools.evaluation.gallery import load_gallery, resolve, score_gallery

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent


def cli_detections(model: Path, paths: list[Path], backend: str) -> list[list[tuple]]:
    """[(label, score, xyxy)] per picture, every detection the package gives (threshold 0, top 100)."""
    command = ["node", str(REPO / "bin" / "webdetr.mjs"), "detect", *map(str, paths)]
    command += ["--model", str(model), "--threshold", "0", "--max-detections", "100", "--json", "--backend", backend]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if run.returncode != 0:
        raise SystemExit(f"webdetr CLI failed ({run.returncode}): {run.stdout[-2000:]}{run.stderr[-2000:]}")
    results = json.loads(run.stdout)["results"]
    return [
        [
            (
                d["label"],
                d["score"],
                (d["box"]["x"], d["box"]["y"], d["box"]["x"] + d["box"]["width"], d["box"]["y"] + d["box"]["height"]),
            )
            for d in result["detections"]
        ]
        for result in results
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "public" / "models" / "detector")
    parser.add_argument("--gallery", type=Path, default=TOOLS / "gallery" / "first_photos.json")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "gallery")
    parser.add_argument("--threshold", type=float, help="default: the package's output.scoreThreshold")
    parser.add_argument("--backend", choices=("wasm", "webgpu", "auto"), default="wasm")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    gallery = load_gallery(args.gallery)
    manifest = json.loads((args.model / "manifest.json").read_text())
    threshold = args.threshold if args.threshold is not None else manifest["output"].get("scoreThreshold", 0.3)
    entries = gallery["photos"] + gallery["object_free"]
    paths = [resolve(e["source"], args.data, args.cache) for e in entries]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"gallery pictures not found: {', '.join(missing)}")
    detections = dict(zip((e["source"] for e in entries), cli_detections(args.model, paths, args.backend)))
    report = score_gallery(gallery, detections, threshold)
    model = args.model.resolve()
    report["model"] = str(model.relative_to(REPO)) if model.is_relative_to(REPO) else str(model)
    report["model_source"] = manifest["model"].get("source", {})

    for photo in report["per_photo"]:
        top = photo["top"]
        verdict = "ok " if photo["fully_right"] else "BAD"
        detail = [] if photo["fully_right"] else [f"missing {m}" for m in photo["missing"]]
        if not photo["top_ok"]:
            detail.append(f"top {top['label']} {top['score']}" if top else "nothing above the threshold")
        if photo["duplicates"]:
            detail.append(f"{photo['duplicates']} duplicate pair(s)")
        print(f"{verdict} {photo['source']}: {'; '.join(detail) if detail else (top['label'] if top else '')}")
    for empty in report["per_object_free"]:
        shown = ", ".join(f"{d['label']} {d['score']}" for d in empty["above_threshold"])
        print(f"{'ok ' if empty['right'] else 'BAD'} {empty['source']}{': ' + shown if shown else ''}")
    print(
        f"threshold {threshold}: {report['fully_right']}/{report['photos']} photos fully right "
        f"({100 * report['fully_right_rate']:.1f}%), {report['object_free_silent']}/{report['object_free']} "
        f"object-free pictures silent, {report['photos_with_duplicates']} photos with duplicates"
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
