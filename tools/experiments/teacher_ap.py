"""Measure the CenterNet teacher's pseudo-labels against the coco128 ground truth (to pick the score
threshold) and against the pennfudan persons (images the teacher never saw).

Reports AP / AP50 (evaluation/coco_ap.py) over all 80 classes and over a class subset (a config's
"classes"), and, for each threshold, precision / recall / F1 of the kept detections at IoU 0.5 with
class agreement (greedy by score). The pseudo-label threshold is the F1-best one. Caveat: coco128 is
the first 128 COCO train2017 images, which the teacher was trained on, so these numbers are optimistic.

  PYTHONPATH=tools /usr/bin/python3 tools/experiments/teacher_ap.py [--labels .cache/pseudo_labels] \
      [--config tools/configs/detector.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


from webdetr_tools.evaluation.coco_ap import ImageResult, box_iou, evaluate
from webdetr_tools.teacher.coco80 import COCO80_NAMES
from webdetr_tools.training.features import set_samples

TOOLS = Path(__file__).resolve().parents[1]

REPO = TOOLS.parent


def results_for(rows, labels: dict, keep: set[int], threshold: float = 0.0) -> list[ImageResult]:
    out = []
    for image_id, _, sample, _ in rows:
        gt = [(b, COCO80_NAMES.index(n)) for b, n in zip(sample.boxes, sample.labels) if COCO80_NAMES.index(n) in keep]
        det = np.array(
            [d for d in labels["images"][image_id] if d[5] in keep and d[4] >= threshold], np.float64
        ).reshape(-1, 6)
        out.append(
            ImageResult(
                np.array([g[0] for g in gt]).reshape(-1, 4),
                np.array([g[1] for g in gt], int),
                det[:, :4],
                det[:, 4],
                det[:, 5].astype(int),
            )
        )
    return out


def precision_recall(results: list[ImageResult], iou: float = 0.5) -> tuple[float, float]:
    tp = n_det = n_gt = 0
    for r in results:
        n_det += len(r.scores)
        n_gt += len(r.gt_labels)
        used = np.zeros(len(r.gt_labels), bool)
        for d in np.argsort(-r.scores, kind="stable"):
            ious = box_iou(r.boxes[d], r.gt_boxes)[0] if len(r.gt_labels) else np.zeros(0)
            ious[(r.gt_labels != r.labels[d]) | used] = -1
            if len(ious) and ious.max() >= iou:
                used[int(ious.argmax())] = True
                tp += 1
    return tp / max(n_det, 1), tp / max(n_gt, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description="teacher pseudo-labels vs coco128 ground truth")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--labels", type=Path, default=REPO / ".cache" / "pseudo_labels")
    parser.add_argument("--config", type=Path, default=TOOLS / "configs" / "detector.json")
    parser.add_argument("--split", default=None, help="train / val / all (default all)")
    args = parser.parse_args(argv)
    labels = json.loads((args.labels / "coco128.json").read_text())
    rows = [r for r in set_samples(args.data, "coco128") if args.split in (None, "all", r[3])]
    subsets = {"all 80": set(range(80))}
    if args.config.is_file():
        names = json.loads(args.config.read_text())["classes"]
        subsets[f"{len(names)} config classes"] = {COCO80_NAMES.index(n) for n in names}
    report = {}
    for title, keep in subsets.items():
        metrics = evaluate(results_for(rows, labels, keep))
        print(f"teacher on coco128 ({len(rows)} images), {title}: AP {metrics['AP']:.3f} AP50 {metrics['AP50']:.3f}")
        best = (0.0, 0.0)
        for t in np.arange(0.1, 0.75, 0.05):
            p, r = precision_recall(results_for(rows, labels, keep, float(t)))
            f1 = 2 * p * r / max(p + r, 1e-9)
            print(f"  threshold {t:.2f}: precision {p:.3f} recall {r:.3f} F1 {f1:.3f}")
            best = max(best, (f1, float(t)))
        print(f"  F1-best threshold {best[1]:.2f} (F1 {best[0]:.3f})")
        report[title] = dict(metrics, best_threshold=round(best[1], 2), best_f1=best[0])
    penn_labels = json.loads((args.labels / "pennfudan.json").read_text())
    penn_rows = [r for r in set_samples(args.data, "pennfudan") if args.split in (None, "all", r[3])]
    metrics = evaluate(results_for(penn_rows, penn_labels, {COCO80_NAMES.index("person")}))
    print(
        f"teacher on pennfudan ({len(penn_rows)} images, not in COCO), person: AP {metrics['AP']:.3f} "
        f"AP50 {metrics['AP50']:.3f} (pennfudan annotates pedestrians, not every person: a lower bound)"
    )
    report["pennfudan person"] = metrics
    print(json.dumps(report))


if __name__ == "__main__":
    main()
