"""One-shot from the shipped default detector (issue 26): the detector v3 package (Deformable-DETR on SSDLite
MobileNetV2, 80 COCO classes) as the source of candidate boxes and of a class signal. A patch's class vector is
the max sigmoid per class over the detector queries overlapping it (IoU >= iou_min); each candidate box gets its
own the same way; the score is their similarity (`webdetr_tools/oneshot/detector_classes.py`), optionally plus
the previous lead's appearance cosine (SSDLite taps, `oneshot_ssdlite_embed.py`) and a log-objectness prior.
Nothing is trained.

Protocol exactly as `oneshot_ssdlite_embed.py` (held-out splits, every look-alikes photo; 60 queries, 5 cross
pictures, seed 0, top 20, query instance out of the targets and its box ignored, 'strict' patch suppression in
the patch's picture, NMS 0.5; same-image, cross-image, pooled, "cross, class present", same-image with 50 kept).
Candidate boxes ("boxes"):
  detector  the 100 query boxes, clipped, slivers dropped, class-agnostic NMS 0.7 by the max class score
  peaks     the previous lead's proposals: the CenterNet teacher's top-300 heat-map peaks (512 input)
  union     both (each box keeps its own source's objectness)
Class vectors always aggregate over all 100 raw queries of the picture. Appearance ("app" weight, "taps"): mean
cosine of the SSDLite taps, RoIAlign-mean, centred by the fixed mean of the lead's 48 unlabeled photos,
L2-normalised (the lead's embedding; c4 = 19x19, c3 = 38x38). "objectness": weight of log objectness (detector:
the query's max class score; peaks: the teacher's heat). The rows "peaks, app 1, objectness 0.2, no class" are the
previous lead (checks the reproduction). Also: recall of the instances among each candidate source at IoU 0.5
(at any score = @1000), so boxes and ranking can be told apart.

  cd tools && nice /usr/bin/python3 -m experiments.oneshot_detector_classes \
      [--sets coco128,bccd,raccoon,pennfudan,lookalikes] [--out experiments/results/oneshot_detector_classes.json]

Per-picture model outputs are cached (fp16) under .cache/oneshot_detector/<set>/<image>.pt (detector logits and
boxes, SSDLite c3 / c4 maps, teacher peaks), the centres in .cache/oneshot_detector/centers.pt; nothing ships.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from experiments.oneshot_ssdlite_embed import WIDE_DETECTIONS, ranked_detections, recall_at_k
from experiments.oneshot_ssdlite_embed import evaluate_variant as ssdlite_evaluate_variant
from experiments.oneshot_teacher_embed import CENTER_PHOTOS, MAX_DETECTIONS, NMS_IOU, SEED, SHIPPED
from experiments.oneshot_teacher_embed import positive_cross_pairs
from webdetr_tools.data.datasets import load_unlabeled, read_rgb
from webdetr_tools.evaluation.oneshot_ap import make_pairs, make_queries
from webdetr_tools.evaluation.oneshot_sets import LOOKALIKES, oneshot_samples
from webdetr_tools.oneshot.detector_classes import (
    candidates,
    class_similarity,
    combined_score,
    query_boxes,
    region_class_vectors,
)
from webdetr_tools.oneshot.ssdlite_embed import embed_normalised, map_means, preprocess

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
CACHE = REPO / ".cache" / "oneshot_detector"
SETS = ("coco128", "bccd", "raccoon", "pennfudan", LOOKALIKES)
TEACHER_SIZE = 512
PEAKS_K = 300
DETECTOR_NMS = 0.7
APP_TAPS = {"c4": ("c4",), "c3+c4": ("c3", "c4")}
# the look-alikes rows of the shipped package (results/oneshot_shipped_lookalikes.json: same-image, pooled)
SHIPPED_LOOKALIKES = {"AP50": 22.2, "AP50_same_image": 34.26}
BASE = {"boxes": "detector", "sim": None, "iou_min": 0.5, "app": 0.0, "taps": "c3+c4", "objectness": 0.0}


class Models:
    """The three models, loaded only when a picture is missing from the cache."""

    def __init__(self):
        from webdetr_tools.backbones.fetch import fetch as fetch_teacher
        from webdetr_tools.detector_v2.ssd_views import SsdInputs
        from webdetr_tools.oneshot.ssdlite_embed import SsdLiteMaps
        from webdetr_tools.oneshot.teacher_embed import TeacherMaps
        from webdetr_tools.ship.detector_v3_package import V3Forward, load_v3

        model, _, _ = load_v3(TOOLS / "checkpoints" / "detector_v3.pt")
        self.detector = V3Forward(model.eval(), SsdInputs().eval())
        self.ssd = SsdLiteMaps()
        self.teacher = TeacherMaps(fetch_teacher())

    @torch.no_grad()
    def detect(self, x):
        """x: the 300x300 stretch (0-255) -> (boxes [100,4] xyxy 0-1, probs [100,80])."""
        logits, boxes = self.detector(x)
        return query_boxes(boxes[0]), logits[0].sigmoid()

    @torch.no_grad()
    def picture(self, rgb):
        from webdetr_tools.oneshot.teacher_embed import preprocess as teacher_preprocess
        from webdetr_tools.oneshot.teacher_embed import proposals

        x = preprocess(rgb)  # PIL bilinear stretch to 300: the runtime's model_input(rgb, 300)
        logits, boxes = self.detector(x)
        maps = self.ssd(x)
        tmaps = self.teacher(teacher_preprocess(rgb, TEACHER_SIZE))
        # heat / wh through fp16 as the lead's map cache stores them, so its peaks are reproduced
        peaks, objectness = proposals(tmaps["heat"].half().float(), tmaps["wh"].half().float(), PEAKS_K)
        return {
            "det_logits": logits[0].half(),
            "det_boxes": boxes[0].float(),
            "c3": maps["c3"].half(),
            "c4": maps["c4"].half(),
            "peak_boxes": peaks.clamp(0, TEACHER_SIZE) / TEACHER_SIZE,
            "peak_objectness": objectness,
        }


class Pictures:
    """Cached model outputs of one set's pictures and the per-source candidates, class vectors and embeddings."""

    def __init__(self, samples, cache, models, centers):
        self.samples, self.cache, self.models, self.centers = samples, cache, models, centers
        self._raw, self._cand, self._vec, self._app = {}, {}, {}, {}

    def raw(self, i):
        if i not in self._raw:
            path = self.cache / f"{self.samples[i].image.stem}.pt"
            if not path.is_file():
                out = self.models().picture(read_rgb(self.samples[i].image))
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(out, path)
            out = {k: v.float() for k, v in torch.load(path).items()}
            out["det_xyxy"] = query_boxes(out.pop("det_boxes"))
            out["det_probs"] = out.pop("det_logits").sigmoid()
            self._raw[i] = out
        return self._raw[i]

    def size(self, i):
        s = self.samples[i]
        return torch.tensor([s.width, s.height, s.width, s.height], dtype=torch.float32)

    def boxes(self, i, source):
        """(boxes [K,4] 0-1, objectness [K]) in the source's rank order."""
        key = (i, source)
        if key not in self._cand:
            r = self.raw(i)
            if source == "detector":
                out = candidates(r["det_xyxy"], r["det_probs"], DETECTOR_NMS)
            elif source == "detector_all":
                order = r["det_probs"].amax(1).argsort(descending=True)
                out = r["det_xyxy"][order], r["det_probs"].amax(1)[order]
            elif source == "peaks":
                out = r["peak_boxes"], r["peak_objectness"]
            elif source == "union":
                (a, oa), (b, ob) = self.boxes(i, "detector"), self.boxes(i, "peaks")
                out = torch.cat([a, b]), torch.cat([oa, ob])
            else:
                raise ValueError(source)
            self._cand[key] = out
        return self._cand[key]

    def class_vectors(self, i, regions, iou_min):
        r = self.raw(i)
        return region_class_vectors(r["det_xyxy"], r["det_probs"], regions, iou_min)

    def candidate_vectors(self, i, source, iou_min):
        key = (i, source, iou_min)
        if key not in self._vec:
            self._vec[key] = self.class_vectors(i, self.boxes(i, source)[0], iou_min)
        return self._vec[key]

    def appearance(self, i, regions, taps):
        return embed_normalised(self.raw(i), regions, APP_TAPS[taps], self.centers)

    def candidate_appearance(self, i, source, taps):
        key = (i, source, taps)
        if key not in self._app:
            self._app[key] = self.appearance(i, self.boxes(i, source)[0], taps)
        return self._app[key]


def detect(pics, query, targets, v, max_detections=MAX_DETECTIONS):
    """Detections (source px, scores) for one query against each target picture, variant v."""
    patch = torch.tensor(query.box, dtype=torch.float32) / pics.size(query.image)
    pvec = pics.class_vectors(query.image, patch[None], v["iou_min"])[0] if v["sim"] else None
    papp = pics.appearance(query.image, patch[None], v["taps"]) if v["app"] else None
    out = []
    for t in targets:
        boxes, obj = pics.boxes(t, v["boxes"])
        if v["sim"]:
            vecs = pics.candidate_vectors(t, v["boxes"], v["iou_min"])
            cls = class_similarity(pvec, vecs, v["sim"], pics.centers.get("cls"))
        else:
            cls = torch.zeros(len(boxes))
        app = None
        if v["app"]:
            emb = pics.candidate_appearance(t, v["boxes"], v["taps"])
            app = torch.stack([emb[k] @ papp[k][0] for k in papp]).mean(0)
        score = combined_score(cls, app, obj, v["app"], v["objectness"])
        out.append(ranked_detections(boxes, score, patch if t == query.image else None, pics.size(t), max_detections))
    return out


def evaluate_variant(pics, samples, queries, pairs, cross_pos, v):
    """oneshot_ssdlite_embed.evaluate_variant with this study's detect."""
    return ssdlite_evaluate_variant(pics, samples, queries, pairs, cross_pos, v, detect_fn=detect)


def centers(models, data):
    """SSDLite tap centres (the lead's: mean map over its CENTER_PHOTOS seeded unlabeled photos) and, for
    cos_centred, the mean class vector of the detector's candidate boxes over the same photos."""
    path = CACHE / "centers.pt"
    if path.is_file():
        return torch.load(path)
    photos = load_unlabeled(data / "unlabeled")
    photos = [photos[j] for j in sorted(np.random.RandomState(SEED).permutation(len(photos))[:CENTER_PHOTOS])]
    maps_list, vectors = [], []
    m = models()
    for p in photos:
        x = preprocess(read_rgb(p))
        maps_list.append(m.ssd(x))
        boxes, probs = m.detect(x)
        vectors.append(region_class_vectors(boxes, probs, candidates(boxes, probs, DETECTOR_NMS)[0]))
    out = map_means(maps_list, ["c3", "c4"])
    out["cls"] = torch.cat(vectors).mean(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def variants():
    rows = [
        # the previous lead (peaks, SSDLite appearance, 0.2 log objectness, no class term): reproduction rows
        {**BASE, "boxes": "peaks", "app": 1.0, "taps": "c4", "objectness": 0.2},
        {**BASE, "boxes": "peaks", "app": 1.0, "taps": "c3+c4", "objectness": 0.2},
        # 1. detector boxes, class similarity only
        *({**BASE, "sim": s} for s in ("cos", "ndot", "cos_obj", "cos_centred")),
        {**BASE, "sim": "cos_obj", "iou_min": 0.3},
        {**BASE, "sim": "cos_obj", "iou_min": 0.7},
        {**BASE, "sim": "cos", "objectness": 0.1},
        # 2. + the lead's appearance cosine; and appearance alone on the detector's boxes
        *({**BASE, "sim": s, "app": w} for s in ("cos_obj", "ndot") for w in (0.5, 1.0, 2.0)),
        {**BASE, "sim": "cos", "app": 1.0, "objectness": 0.2},
        {**BASE, "app": 1.0, "objectness": 0.2},
        # 3. the lead's peaks and the union with the class score
        *(
            {**BASE, "boxes": b, "sim": "cos_obj", "app": w, "objectness": 0.2}
            for b in ("peaks", "union")
            for w in (0.5, 1, 2)
        ),
        *({**BASE, "boxes": b, "sim": "ndot", "app": 1.0, "objectness": 0.2} for b in ("peaks", "union")),
        {**BASE, "boxes": "union", "sim": "cos_obj"},
    ]
    return [{**r, "app": float(r["app"])} for r in rows]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=TOOLS / "experiments" / "results" / "oneshot_detector_classes.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    loaded = []

    def models():  # loaded once, and only if something is not cached
        if not loaded:
            loaded.append(Models())
        return loaded[0]

    centre = centers(models, args.data)
    grid = variants()
    report = {
        "command": " ".join(["oneshot_detector_classes"] + [f"--{k}={v}" for k, v in vars(args).items()]),
        "protocol": {"max_queries": 60, "cross_images": 5, "seed": SEED, "max_detections": MAX_DETECTIONS},
        "wide_detections": WIDE_DETECTIONS,
        "nms_iou": NMS_IOU,
        "detector_nms": DETECTOR_NMS,
        "peaks_k": PEAKS_K,
        "app_taps": APP_TAPS,
        "shipped_card": {**SHIPPED, LOOKALIKES: SHIPPED_LOOKALIKES},
        "sets": {},
    }
    for name in args.sets.split(","):
        started = time.time()
        samples = oneshot_samples(args.data, name)
        pics = Pictures(samples, CACHE / name, models, centre)
        queries = make_queries(samples, 60, SEED)
        pairs = make_pairs(samples, queries, 5, SEED)
        cross_pos = positive_cross_pairs(samples, queries)
        sources = {s: (lambda i, s=s: pics.boxes(i, s)[0]) for s in ("detector", "detector_all", "peaks", "union")}
        entry = {
            "images": len(samples),
            "queries": len(queries),
            "pairs": len(pairs),
            "class_present_cross_pairs": len(cross_pos),
            "detector_boxes_after_nms_median": int(
                np.median([len(pics.boxes(i, "detector")[0]) for i in range(len(samples))])
            ),
            "recall": recall_at_k(pics, sources, per_label=name == LOOKALIKES),
            "variants": [],
        }
        print(name, "recall", json.dumps(entry["recall"]), f"{time.time() - started:.0f}s", flush=True)
        for v in grid:
            result = evaluate_variant(pics, samples, queries, pairs, cross_pos, v)
            entry["variants"].append({**v, **result})
            print(
                name,
                json.dumps(v),
                result["AP50_same_image"],
                result["AP50"],
                f"{time.time() - started:.0f}s",
                flush=True,
            )
        report["sets"][name] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
