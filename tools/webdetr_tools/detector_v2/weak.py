"""Weak labels from ImageNet file names: the CLS-LOC samples (unlabeled/, unlabeled_extra/:
`<WordNet id>_<class>.JPEG`) and the DET samples of ajschumacher/imagen (`<WordNet id>_<image>_<class>.jpg`, one
of ILSVRC DET's 200 classes, which name the class that the photo is labelled with, not always its main object).

Why: the teacher confuses close-ups (it calls the bundled cat "dog 0.47" at 512); the file name says
which COCO class the photo's main object is. `weak_class(file_name)` -> COCO-80 id or None;
`apply_weak_label(rows, cls)` fixes the teacher's rows for one photo (see its docstring).
"""
from __future__ import annotations

import re

import numpy as np

from ..evaluation.coco_ap import box_iou
from ..teacher.coco80 import COCO80_NAMES

# ImageNet classes are sorted by WordNet id, so these contiguous id ranges are whole class groups
RANGES = [
    ("n02085620", "n02113978", "dog"),
    ("n02123045", "n02124075", "cat"),
    ("n01514668", "n01622779", "bird"),
    ("n01795545", "n01860187", "bird"),
    ("n02002724", "n02058221", "bird"),
    ("n02132136", "n02134418", "bear"),
]
NAMES = {
    "zebra": "zebra",
    "sorrel": "horse",
    "ox": "cow",
    "ram": "sheep",
    "tusker": "elephant",
    "Indian_elephant": "elephant",
    "African_elephant": "elephant",
    "teddy": "teddy bear",
    "sports_car": "car",
    "convertible": "car",
    "cab": "car",
    "beach_wagon": "car",
    "limousine": "car",
    "minivan": "car",
    "Model_T": "car",
    "racer": "car",
    "jeep": "car",
    "police_van": "car",
    "school_bus": "bus",
    "trolleybus": "bus",
    "minibus": "bus",
    "mountain_bike": "bicycle",
    "bicycle-built-for-two": "bicycle",
    "moped": "motorcycle",
    "motor_scooter": "motorcycle",
    "airliner": "airplane",
    "warplane": "airplane",
    "fire_engine": "truck",
    "garbage_truck": "truck",
    "pickup": "truck",
    "tow_truck": "truck",
    "trailer_truck": "truck",
    "moving_van": "truck",
    "bullet_train": "train",
    "electric_locomotive": "train",
    "steam_locomotive": "train",
    "passenger_car": "train",
    "freight_car": "train",
    "canoe": "boat",
    "speedboat": "boat",
    "lifeboat": "boat",
    "fireboat": "boat",
    "gondola": "boat",
    "schooner": "boat",
    "catamaran": "boat",
    "container_ship": "boat",
    "liner": "boat",
    "coffee_mug": "cup",
    "espresso": "cup",
    "cup": "cup",
    "beer_bottle": "bottle",
    "wine_bottle": "bottle",
    "water_bottle": "bottle",
    "pop_bottle": "bottle",
    "pill_bottle": "bottle",
    "red_wine": "wine glass",
    "goblet": "wine glass",
    "pizza": "pizza",
    "banana": "banana",
    "Granny_Smith": "apple",
    "orange": "orange",
    "broccoli": "broccoli",
    "hotdog": "hot dog",
    "cheeseburger": "sandwich",
    "bagel": "donut",
    "laptop": "laptop",
    "notebook": "laptop",
    "computer_keyboard": "keyboard",
    "mouse": "mouse",
    "remote_control": "remote",
    "cellular_telephone": "cell phone",
    "monitor": "tv",
    "television": "tv",
    "screen": "tv",
    "microwave": "microwave",
    "refrigerator": "refrigerator",
    "toaster": "toaster",
    "analog_clock": "clock",
    "wall_clock": "clock",
    "digital_clock": "clock",
    "vase": "vase",
    "umbrella": "umbrella",
    "backpack": "backpack",
    "purse": "handbag",
    "mailbag": "handbag",
    "park_bench": "bench",
    "folding_chair": "chair",
    "rocking_chair": "chair",
    "barber_chair": "chair",
    "studio_couch": "couch",
    "four-poster": "bed",
    "dining_table": "dining table",
    "toilet_seat": "toilet",
    "washbasin": "sink",
    "tennis_ball": "sports ball",
    "soccer_ball": "sports ball",
    "basketball": "sports ball",
    "golf_ball": "sports ball",
    "volleyball": "sports ball",
    "rugby_ball": "sports ball",
    "croquet_ball": "sports ball",
    "ping-pong_ball": "sports ball",
    "racket": "tennis racket",
    "ski": "skis",
    "snowmobile": None,
    "parking_meter": "parking meter",
    "street_sign": "stop sign",
    "traffic_light": "traffic light",
    "hair_spray": None,
    "scissors": "scissors",
    "ballplayer": "person",
    "scuba_diver": "person",
    "groom": "person",
}


# ILSVRC DET class names (as in ajschumacher/imagen's file names) that fall under a COCO-80 class
DET_NAMES = {
    "airplane": "airplane",
    "apple": "apple",
    "backpack": "backpack",
    "bagel": "donut",
    "banana": "banana",
    "bear": "bear",
    "bench": "bench",
    "bicycle": "bicycle",
    "bird": "bird",
    "bowl": "bowl",
    "bus": "bus",
    "car": "car",
    "cattle": "cow",
    "chair": "chair",
    "computer_keyboard": "keyboard",
    "computer_mouse": "mouse",
    "cup_or_mug": "cup",
    "digital_clock": "clock",
    "dog": "dog",
    "domestic_cat": "cat",
    "elephant": "elephant",
    "hair_dryer": "hair drier",
    "hamburger": "sandwich",
    "horse": "horse",
    "hotdog": "hot dog",
    "laptop": "laptop",
    "microwave": "microwave",
    "motorcycle": "motorcycle",
    "orange": "orange",
    "person": "person",
    "pizza": "pizza",
    "purse": "handbag",
    "racket": "tennis racket",
    "refrigerator": "refrigerator",
    "remote_control": "remote",
    "sheep": "sheep",
    "ski": "skis",
    "sofa": "couch",
    "baseball": "sports ball",
    "basketball": "sports ball",
    "croquet_ball": "sports ball",
    "golf_ball": "sports ball",
    "ping-pong_ball": "sports ball",
    "rugby_ball": "sports ball",
    "soccer_ball": "sports ball",
    "tennis_ball": "sports ball",
    "volleyball": "sports ball",
    "table": "dining table",
    "tie": "tie",
    "toaster": "toaster",
    "traffic_light": "traffic light",
    "train": "train",
    "tv_or_monitor": "tv",
    "water_bottle": "bottle",
    "wine_bottle": "bottle",
    "watercraft": "boat",
    "zebra": "zebra",
}
DET_NAME = re.compile(r"^(n\d{8})_\d+_(.+)$")


def weak_class(file_name: str) -> int | None:
    stem = file_name.rsplit(".", 1)[0]
    det = DET_NAME.match(stem)
    if det:
        coco = DET_NAMES.get(det.group(2))
        return COCO80_NAMES.index(coco) if coco else None
    if "_" not in stem or not stem.startswith("n"):
        return None
    wnid, name = stem.split("_", 1)
    for lo, hi, coco in RANGES:
        if lo <= wnid <= hi:
            return COCO80_NAMES.index(coco)
    coco = NAMES.get(name)
    return COCO80_NAMES.index(coco) if coco else None


def apply_weak_label(
    rows, cls: int, threshold: float, min_score: float = 0.05, same_box_iou: float = 0.7, raise_to: float | None = None
):
    """rows: teacher [[x0, y0, x1, y1, score, class], ...] best first. If the teacher has a box of the weak
    class scoring >= min_score, that box is kept (score raised to >= threshold) and rows of other classes on
    the same object (IoU >= same_box_iou) are dropped (raise_to: the kept box's score instead of threshold).
    Otherwise the rows are returned unchanged: the weak label has no box of its own."""
    rows = [list(r) for r in rows]
    mine = [r for r in rows if int(r[5]) == cls and r[4] >= min_score]
    if not mine:
        return rows
    best = mine[0]
    best_box = np.array(best[:4])
    out = []
    for r in rows:
        if r is best:
            out.append(r[:4] + [max(r[4], threshold if raise_to is None else raise_to), r[5]])
        elif int(r[5]) != cls and r[4] >= min_score and box_iou(best_box, np.array(r[:4]))[0, 0] >= same_box_iou:
            continue
        else:
            out.append(r)
    return sorted(out, key=lambda r: -r[4])
