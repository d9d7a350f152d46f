"""Where a v2b checkpoint gains or loses against its proposals (the teacher's top-100), on the held-out val:
AP / AP50 / AP75 of the model, of the teacher (step 0), of the model's boxes with the teacher's scores
(box refinement alone), of the teacher's boxes with the model's scores (re-scoring alone), and of every
decoder layer's output; and duplicates as issue 34 counts them (pairs of same-class boxes at IoU >= 0.7,
both >= the package threshold 0.3). Cached identity views, stride-8 proposals, the loop's protocol.

  cd tools && /usr/bin/python3 -m webdetr_tools.detector_v2.diagnose_b \
      --checkpoint ../.cache/runs/detector_v2b/model_step700.pt [--run-dir ../.cache/runs/detector_v2b \
      --out results/detector_v2b_run.json]
With --run-dir, the run's metrics.jsonl and its evaluate_run_step<N>.json files (evaluate_run --stride4
outputs saved there) and diagnose_step<N>.json files (earlier outputs of this tool on checkpoint.pt) are
collected into the same report (the trajectory).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..evaluation.coco_ap import ImageResult, box_iou, evaluate
from ..training.evaluate import postprocess
from .config import REPO, repo_path
from .data import Targets, ViewCache
from .model_b import forward_train
from .variants import build


THRESHOLD = 0.3


def duplicates(results, threshold: float = THRESHOLD) -> int:
    pairs = 0
    for r in results:
        keep = r.scores >= threshold
        boxes, labels = r.boxes[keep], r.labels[keep]
        for c in set(labels.tolist()):
            b = boxes[labels == c]
            iou = box_iou(b, b)
            pairs += int(((iou >= 0.7).sum() - len(b)) // 2)
    return pairs


@torch.no_grad()
def ablations(model, cache, targets, config) -> dict:
    out = {}
    person = config["classes"].index("person")
    for name in config["data"]["val_sets"]:
        items = [(name, img["id"]) for img in cache.images(name, "val")]
        results: dict = {}
        for start in range(0, len(items), 8):
            chunk = items[start : start + 8]
            levels = cache.features([(s, i, 0) for s, i in chunk])
            p = model.proposals(levels)
            layers, _ = forward_train(model, levels, p)
            logits, boxes = layers[-1]
            base = model.base_logits(p)
            variants = {
                "model": (logits, boxes),
                "teacher (step 0)": (base, p.boxes),
                "model boxes, teacher scores": (base, boxes),
                "teacher boxes, model scores": (logits, p.boxes),
                **{f"decoder layer {k}": layer for k, layer in enumerate(layers)},
            }
            sizes = [(cache.image(s, i)["width"], cache.image(s, i)["height"]) for s, i in chunk]
            for key, (lg, bx) in variants.items():
                for item, r in zip(chunk, postprocess(lg, bx, sizes)):
                    if name == "pennfudan":
                        r = tuple(a[r[2] == person] for a in r)
                    results.setdefault(key, []).append(ImageResult(*targets.ground_truth(*item), *r))
        label = "pennfudan_person" if name == "pennfudan" else name
        out[label] = {
            k: {**{m: round(100 * v, 2) for m, v in evaluate(r).items()}, "duplicate_pairs_at_0.3": duplicates(r)}
            for k, r in results.items()
        }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--run-dir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    state = torch.load(args.checkpoint, map_location="cpu")
    config = state["config"]
    model = build(config)
    model.load_state_dict(state["model"])
    model.eval()
    cache = ViewCache(repo_path(config, "cache_dir"))
    report = {"checkpoint": args.checkpoint.name, "step": state["step"]}
    if args.run_dir:
        report["config"] = "tools/configs/detector_v2b.json"
        report["trajectory_stride8"] = [json.loads(line) for line in open(args.run_dir / "metrics.jsonl")]
        report["evaluate_run"] = {
            int(p.stem.split("step")[-1]): {k: v for k, v in json.loads(p.read_text()).items() if k != "checkpoint"}
            for p in sorted(args.run_dir.glob("evaluate_run_step*.json"), key=lambda p: int(p.stem.split("step")[-1]))
        }
        report["ablations_by_step"] = {
            int(p.stem.split("step")[-1]): json.loads(p.read_text())["ablations"]
            for p in sorted(args.run_dir.glob("diagnose_step*.json"), key=lambda p: int(p.stem.split("step")[-1]))
        }
    report["ablations"] = ablations(model, cache, Targets(config, args.data, cache), config)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
