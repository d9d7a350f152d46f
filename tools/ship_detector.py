#!/usr/bin/env python3
"""Ship a detector training checkpoint of the variant `npm run build:models` ships (SHIPPED_DETECTOR in
ship/detector_reference.py: "v2b", CenterNet proposals, or "v3", SSDLite proposals; README-detector-v2.md) as the
default detector, in one command from the repository root (flip SHIPPED_DETECTOR by hand first when the variant
changes):

    nice -n 5 /usr/bin/python3 tools/ship_detector.py \
        --run .cache/runs/detector_v3/model_step2820.pt --threshold 0.35

Steps (each an existing tool, run as a subprocess; the first failure stops the sequence):
  0. --threshold T is written into SCORE_THRESHOLD (ship/detector_<variant>_package.py), so that `npm run build:models`
     from a clean checkout reproduces the package; the scoreThreshold that test/shipped/shipped-parity.test.ts
     expects is only checked (a test's expectation is edited by hand, never by the tool it tests);
  1. release_checkpoint.py --kind detector: the run's checkpoint -> tools/checkpoints/detector_<variant>.pt (fp16);
  2. build_models.py --only detector (the default build) -> public/models/detector +
     test/fixtures/shipped/detector; the manifest's output.duplicateIou is the exporter's DUPLICATE_IOU (class-wise
     duplicate suppression, which steps 3-5 apply on the PyTorch side too, read from the manifest);
  3. eval_shipped.py: held-out AP, PyTorch vs CLI (WASM), and the threshold sweep ->
     tools/results/detector_<variant>_shipped.json;
  4. eval_gallery.py --threshold T -> tools/results/gallery_<variant>.json;
  5. render_examples.py --only detector: the model card's example pictures at T.
Then a summary of the numbers the model card quotes. Nothing is committed; the model card's numbers are edited
by hand. --from STEP resumes at a step (e.g. --from eval after a fixed CLI).
"""
import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from webdetr_tools.ship.detector_reference import SHIPPED_DETECTOR, shipped_checkpoint

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
PYTHON = sys.executable
STEPS = ("release", "build", "eval", "gallery", "examples")


VARIANT = SHIPPED_DETECTOR
CHECKPOINT = shipped_checkpoint(VARIANT)
PACKAGE = REPO / "public" / "models" / "detector"
EVAL_OUT = TOOLS / "results" / f"detector_{VARIANT}_shipped.json"
GALLERY_OUT = TOOLS / "results" / f"gallery_{VARIANT}.json"
# The build's source of the shipped threshold (rewritten) and the test that expects it (checked, never rewritten).
THRESHOLD_SOURCE = (
    TOOLS / "webdetr_tools" / "ship" / f"detector_{VARIANT}_package.py",
    r"^SCORE_THRESHOLD = ([0-9.]+)$",
)
THRESHOLD_TEST = (REPO / "test" / "shipped" / "shipped-parity.test.ts", r"^const DETECTOR_THRESHOLD = ([0-9.]+);")


def set_threshold(threshold: float) -> None:
    path, pattern = THRESHOLD_TEST
    found = re.findall(pattern, path.read_text(), flags=re.M)
    if len(found) != 1 or float(found[0]) != threshold:
        raise SystemExit(
            f"{path.relative_to(REPO)} expects DETECTOR_THRESHOLD {found or 'nowhere'}, not {threshold}: "
            "edit the test's expectation first"
        )
    path, pattern = THRESHOLD_SOURCE
    text = path.read_text()
    new, count = re.subn(pattern, f"SCORE_THRESHOLD = {threshold}", text, flags=re.M)
    if count != 1:
        raise SystemExit(f"{path}: expected one line matching {pattern!r}, found {count}")
    if new != text:
        path.write_text(new)
        print(f"{path.relative_to(REPO)}: threshold {threshold}", flush=True)


def run(step: str, *args: str) -> None:
    command = [PYTHON, *args]
    print(f"\n== {step}: {' '.join(command)}", flush=True)
    started = time.time()
    # eval_shipped imports webdetr_tools relative to tools/, the others from the repository root work too.
    done = subprocess.run(command, cwd=TOOLS)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed ({done.returncode}); rerun with --from {step}")
    print(f"== {step}: {time.time() - started:.0f} s", flush=True)


def summary(threshold: float) -> None:
    manifest = json.loads((PACKAGE / "manifest.json").read_text())
    size = sum(p.stat().st_size for p in PACKAGE.glob("*.onnx"))
    print(
        f"\npackage {PACKAGE.relative_to(REPO)}: {size / 1e6:.1f} MB of graphs, "
        f"{len(manifest['output']['classNames'])} "
        f"classes, scoreThreshold {manifest['output']['scoreThreshold']}, "
        f"duplicateIou {manifest['output'].get('duplicateIou')}"
    )
    if EVAL_OUT.is_file():
        report = json.loads(EVAL_OUT.read_text())
        print(f"held-out (step {report['step']}), PyTorch -> CLI ({report.get('browser_backend', {}).get('name')}):")
        for name in ("coco128", "pennfudan"):
            pt, cli = report.get("pytorch", {}).get(name, {}), report.get("browser", {}).get(name, {})
            print(
                f"  {name} ({pt.get('images')} images): AP {pt.get('AP')} -> {cli.get('AP')}, "
                f"AP50 {pt.get('AP50')} -> {cli.get('AP50')}"
            )
        print(f"  max |difference| {report.get('max_ap_difference')} AP")
        sweep = report.get("threshold_sweep", {})
        rows = [r for r in sweep.get("rows", []) if 0.25 <= r["threshold"] <= 0.55]
        print(f"threshold sweep ({sweep.get('detections')}), F1-best {sweep.get('f1_best')}:")
        for r in rows:
            print(f"  {r['threshold']:.2f}: P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}")
    if GALLERY_OUT.is_file():
        g = json.loads(GALLERY_OUT.read_text())
        # file names only: the sources' prefixes (shared:unlabeled_extra/, skimage:) say nothing here
        wrong = [p["source"].split("/")[-1] for p in g["per_photo"] if not p["fully_right"]]
        loud = [e["source"].split("/")[-1] for e in g["per_object_free"] if not e["right"]]
        print(
            f"gallery at {g.get('threshold', threshold)}: {g['fully_right']}/{g['photos']} photos fully right, "
            f"{g['object_free_silent']}/{g['object_free']} object-free silent, {g['photos_with_duplicates']} photos "
            f"with duplicates\n  not right: {', '.join(wrong) or '-'}\n"
            f"  object-free with detections: {', '.join(loud) or '-'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--run", type=Path, help=f"training checkpoint (.cache/runs/detector_{VARIANT}/model_step<N>.pt)"
    )
    parser.add_argument("--threshold", type=float, required=True, help="the package's scoreThreshold")
    parser.add_argument("--from", dest="start", choices=STEPS, default=STEPS[0], help="resume at this step")
    parser.add_argument("--summary-only", action="store_true", help="print the summary of the last run's results")
    args = parser.parse_args()
    if args.summary_only:
        summary(args.threshold)
        return
    if args.start == "release" and args.run is None:
        parser.error("--run is required (unless --from a later step)")
    steps = STEPS[STEPS.index(args.start) :]
    set_threshold(args.threshold)
    if "release" in steps:
        run(
            "release",
            "release_checkpoint.py",
            "--kind",
            "detector",
            "--run",
            str(args.run.resolve()),
            "--out",
            str(CHECKPOINT),
        )
    if "build" in steps:
        run("build", "build_models.py", "--only", "detector")
    if "eval" in steps:
        # paths relative to tools/ (the cwd): the report records its command and model
        relative = [str(p.relative_to(TOOLS)) for p in (CHECKPOINT, EVAL_OUT)]
        run(
            "eval",
            "eval_shipped.py",
            "--checkpoint",
            relative[0],
            "--model",
            "../public/models/detector",
            "--out",
            relative[1],
        )
    if "gallery" in steps:
        # absolute --model: eval_gallery runs the CLI from the repository root
        run(
            "gallery",
            "eval_gallery.py",
            "--model",
            str(PACKAGE),
            "--threshold",
            str(args.threshold),
            "--out",
            str(GALLERY_OUT),
        )
    if "examples" in steps:
        run(
            "examples",
            "render_examples.py",
            "--only",
            "detector",
            "--threshold",
            str(args.threshold),
            "--detector-checkpoint",
            str(CHECKPOINT),
        )
    summary(args.threshold)


if __name__ == "__main__":
    main()
