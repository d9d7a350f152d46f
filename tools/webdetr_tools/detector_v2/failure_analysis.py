"""Where the shipped detector loses against its teacher, measured (issue 34).

Per ground-truth object of coco128 val (the shipped model's 35 classes), at the shipped threshold 0.3 and
IoU 0.5: 'found' (a box of the right class >= threshold), 'classification' (some box of any class or score
overlaps it at IoU >= 0.5: localised, wrongly or weakly classified), 'localisation' (no box near it:
for the student none of its 100 query boxes, for the teacher none of its top-100 peaks). Also the AP of
each model (80 and 35 classes), the bundled samples' top detections, and PNGs with the boxes >= 0.2.

  cd tools && /usr/bin/python3 -m webdetr_tools.detector_v2.failure_analysis \
      [--out results/detector_v2_failure_analysis.json] [--pictures ../.cache/detector_v2_analysis]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..evaluation.coco_ap import ImageResult, box_iou, evaluate
from ..ship.centernet import load_backbone
from ..ship.detector_package import load_detector
from ..teacher.centernet_teacher import decode
from ..teacher.coco80 import COCO80_NAMES
from ..training.evaluate import postprocess
from ..training.features import set_samples
from .config import REPO
from .neck import TeacherNeck

THRESHOLD = 0.3
SAMPLES = ("chelsea", "coffee", "astronaut")


def _stretch(pil: Image.Image, size: int) -> torch.Tensor:
    """The runtime's 'pil' path (build_models.model_input)."""
    return torch.from_numpy(np.asarray(pil.resize((size, size), Image.BILINEAR), np.float32).copy()).permute(2, 0, 1)[
        None
    ]


class Models:
    def __init__(self, model_json: Path, checkpoint: Path):
        self.neck = TeacherNeck(model_json).eval()
        self.student, config = load_detector(checkpoint, load_backbone(model_json))
        self.classes = config["classes"]
        self.size = config["feature_size"]

    @torch.no_grad()
    def teacher(self, pil, size):
        """(boxes xyxy px, scores, COCO-80 ids) of the teacher's top-100 at size x size (bilinear, as pseudo_label)."""
        w, h = pil.size
        x = torch.from_numpy(np.asarray(pil, np.float32).copy()).permute(2, 0, 1)[None]
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        rows = decode(*self.neck.raw(x), k=100).numpy()
        rows[:, [0, 2]] *= w / size
        rows[:, [1, 3]] *= h / size
        return rows[:, :4], rows[:, 4], rows[:, 5].astype(int), rows[:, :4]

    @torch.no_grad()
    def shipped(self, pil):
        """(top-100 boxes, scores, COCO-80 ids, all 100 query boxes)."""
        w, h = pil.size
        out = self.student(_stretch(pil, self.size))
        b, s, lab = postprocess(out["pred_logits"], out["pred_boxes"], [(w, h)])[0]
        q = out["pred_boxes"][0].numpy()
        queries = np.stack(
            [q[:, 0] - q[:, 2] / 2, q[:, 1] - q[:, 3] / 2, q[:, 0] + q[:, 2] / 2, q[:, 1] + q[:, 3] / 2], -1
        )
        return b, s, np.array([COCO80_NAMES.index(self.classes[i]) for i in lab]), queries * [w, h, w, h]


def _top(d, k=5):
    return [[COCO80_NAMES[c], round(float(s), 3), [round(float(v)) for v in b]] for b, s, c in list(zip(*d[:3]))[:k]]


def _draw(pil, dets: dict, path: Path):
    panels = []
    for title, d in dets.items():
        im = pil.copy()
        draw = ImageDraw.Draw(im)
        for b, s, c in zip(*d[:3]):
            if s >= 0.2:
                draw.rectangle([float(v) for v in b], outline=(255, 0, 0) if s >= THRESHOLD else (255, 200, 0), width=2)
                draw.text((float(b[0]) + 3, float(b[1]) + 3), f"{COCO80_NAMES[c]} {s:.2f}", fill=(255, 255, 0))
        draw.text((5, pil.size[1] - 15), title, fill=(0, 255, 255))
        panels.append(im)
    canvas = Image.new("RGB", (sum(p.size[0] for p in panels), pil.size[1]))
    for k, p in enumerate(panels):
        canvas.paste(p, (k * pil.size[0], 0))
    canvas.save(path)


def object_outcome(gt_box, gt_label, det) -> str:
    b, s, lab, every = det
    iou = box_iou(gt_box, b)[0]
    if ((iou >= 0.5) & (lab == gt_label) & (s >= THRESHOLD)).any():
        return "found"
    if len(every) and (box_iou(gt_box, every)[0] >= 0.5).any():
        return "classification"
    return "localisation"


def analyse(models: Models, data_root: Path, pictures: Path | None) -> dict:
    report = {"threshold": THRESHOLD, "samples": {}}
    runs = {
        "shipped": models.shipped,
        "teacher512": lambda p: models.teacher(p, 512),
        "teacher320": lambda p: models.teacher(p, 320),
    }
    for name in SAMPLES:
        pil = Image.open(REPO / "public" / "samples" / f"{name}.jpg").convert("RGB")
        dets = {k: f(pil) for k, f in runs.items()}
        report["samples"][name] = {k: _top(d) for k, d in dets.items()}
        if pictures:
            _draw(pil, dets, pictures / f"{name}.png")
    c35 = {COCO80_NAMES.index(n) for n in models.classes}
    outcomes = {k: {"found": 0, "classification": 0, "localisation": 0} for k in runs}
    cross = {}  # teacher512 outcome -> shipped outcome
    results = {k: [] for k in runs}
    rows = [r for r in set_samples(data_root, "coco128") if r[3] == "val"]
    for image_id, path, sample, _ in rows:
        pil = Image.open(path).convert("RGB")
        dets = {k: f(pil) for k, f in runs.items()}
        gl = np.array([COCO80_NAMES.index(n) for n in sample.labels], int)
        for k, d in dets.items():
            results[k].append(ImageResult(sample.boxes, gl, *d[:3]))
        for box, label in zip(sample.boxes, gl):
            if label not in c35:
                continue
            got = {k: object_outcome(box, label, d) for k, d in dets.items()}
            for k, v in got.items():
                outcomes[k][v] += 1
            key = f"teacher512 {got['teacher512']} -> shipped {got['shipped']}"
            cross[key] = cross.get(key, 0) + 1
    report["coco128_val"] = {
        "images": len(rows),
        "objects_35_classes": sum(outcomes["shipped"].values()),
        "outcomes": outcomes,
        "teacher512_vs_shipped": dict(sorted(cross.items())),
    }

    def keep(r):
        gt, det = np.isin(r.gt_labels, list(c35)), np.isin(r.labels, list(c35))
        return ImageResult(r.gt_boxes[gt], r.gt_labels[gt], r.boxes[det], r.scores[det], r.labels[det])

    for k, res in results.items():
        m80, m35 = evaluate(res), evaluate([keep(r) for r in res])
        report["coco128_val"][f"AP_{k}"] = {
            "80_classes": [round(m80["AP"] * 100, 2), round(m80["AP50"] * 100, 2)],
            "35_classes": [round(m35["AP"] * 100, 2), round(m35["AP50"] * 100, 2)],
        }
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description="shipped detector vs teacher: failure analysis")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--model-json", type=Path, default=REPO / ".cache" / "human-models" / "centernet.json")
    parser.add_argument("--checkpoint", type=Path, default=REPO / "tools" / "checkpoints" / "detector.pt")
    parser.add_argument("--out", type=Path, default=REPO / "tools" / "results" / "detector_v2_failure_analysis.json")
    parser.add_argument("--pictures", type=Path, default=REPO / ".cache" / "detector_v2_analysis")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.pictures.mkdir(parents=True, exist_ok=True)
    report = analyse(Models(args.model_json, args.checkpoint), args.data, args.pictures)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["coco128_val"], indent=1))


if __name__ == "__main__":
    main()
