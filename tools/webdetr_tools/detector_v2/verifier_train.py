"""Training logic of the proposal verifier (verifier.py) on a frozen detector v3 release; the command line is
tools/experiments/detector_verifier.py (research: README-detector-v2.md section 10; nothing of it ships).

Steps (the feature cache is written per set and reused):
  1. features: every training picture (and its mirror image) through SSDLite and the frozen v3 model at 300x300,
     the runtime's input path; per query: the pooled 19x19 and 10x10 taps + the anchor's 80 scores (float16; a
     verifier reads a subset, select_columns), its class, v3's final logit on that class and final box. Held-out
     pictures (coco128 / pennfudan val, the gallery reserve) are never read.
  2. targets per query (only queries a rule speaks for carry a loss):
     - ground truth (coco128 train, coco_extra; pennfudan train for the person queries only): per object, the
       highest-scoring query of its class whose final box overlaps it by IoU >= match_iou is right (1); every
       other query is wrong (0), duplicates included, as the set loss taught v3;
     - weakly labelled photos (the file name's class k; unlabeled, unlabeled_extra, imagenet_det): the best
       class-k query is right; a query of another class on that box (IoU >= weak_confusion_iou) is wrong, and so
       is a second class-k query on it (IoU >= weak_duplicate_iou); nothing else is known;
     - object-free textures: every query is wrong.
     class_posterior's targets are the class of the object a query's box covers (ground_truth_classes,
     weak_classes).
  3. "logit" / "veto": the linear layer on standardised inputs, sigmoid focal loss (v3's own) on v3's final logit +
     delta; a seeded held-out slice of the training pictures picks the epoch, epoch 0 (no verifier) included.
     "class_posterior": a softmax classifier, then its scale fitted on the held-out slice (train_posterior). The
     standardisation is folded into the layer.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.coco_extra import load_coco_extra
from ..data.datasets import load_coco128, load_pennfudan, load_unlabeled
from ..ship.inputs import model_input
from ..teacher.coco80 import COCO80_NAMES
from ..training.boxes import cxcywh_to_xyxy, box_iou
from . import textures
from .model_v3 import TAP_CHANNELS, build_model_v3, forward_eval
from .ssd_views import SsdInputs
from .verifier import VETO_BIAS, proposal_features, softplus
from .weak import weak_class

TOOLS = Path(__file__).resolve().parents[2]
REPO = TOOLS.parent
SPLITS = TOOLS / "results" / "detector_v2_splits.json"
WEAK = ("unlabeled", "unlabeled_extra", "imagenet_det")  # sets whose rows follow the weak rules (build_rows)


def training_pictures(config: dict, data_root: Path) -> dict[str, list]:
    """set -> [(key, path, boxes xyxy px [G,4], class indices [G] or the weak class)], held-out pictures left out."""
    splits = json.loads(SPLITS.read_text())
    held_out = {name: set(s.get("val", [])) | set(s.get("gallery", [])) for name, s in splits.items()}
    sets = config["data"]
    out = {}
    loaders = {
        "coco128": lambda: load_coco128(data_root / "coco128"),
        "pennfudan": lambda: load_pennfudan(data_root / "pennfudan"),
        "coco_extra": lambda: load_coco_extra(REPO / ".cache" / "fetched" / "coco_extra"),
    }
    for name in sets["ground_truth"]:
        rows = []
        for s in loaders[name]():
            if s.image.name in held_out.get(name, ()):
                continue
            labels = np.array([COCO80_NAMES.index(n) for n in s.labels], np.int64)
            rows.append((s.image.name, s.image, s.boxes, labels))
        out[name] = rows
    weak_dirs = {
        "unlabeled": data_root / "unlabeled",
        "unlabeled_extra": data_root / "unlabeled_extra",
        "imagenet_det": REPO / ".cache" / "fetched" / "imagenet_det",
    }
    for name in sets["weak"]:
        rows = []
        for path in load_unlabeled(weak_dirs[name]):
            k = weak_class(path.name)
            if k is not None and path.name not in held_out.get(name, ()):
                rows.append((path.name, path, None, k))
        out[name] = rows
    count = int(sets.get("textures", 0))
    if count:
        half = count // 2
        paths = textures.ensure(REPO / ".cache" / "detector_v2_textures", half) + textures.ensure(
            REPO / ".cache" / "detector_v2_textures_muted", count - half, palette="muted"
        )
        out["textures"] = [(f"{p.parent.name}/{p.name}", p, None, None) for p in paths]
    return out


def load_release(checkpoint: Path, verifier: dict):
    state = torch.load(str(checkpoint), map_location="cpu")
    config = json.loads(json.dumps(state["config"]))
    if config.get("variant") != "v3":
        raise SystemExit(f"{checkpoint}: not a detector v3 release")
    config["model"]["proposals"]["verifier"] = verifier
    model = build_model_v3(config)
    missing, unexpected = model.load_state_dict(state["model"], strict=False)
    if unexpected or any(not k.startswith("verifier.") for k in missing):
        raise SystemExit(f"{checkpoint}: state does not fit v3 (+verifier): {missing} {unexpected}")
    return model.eval(), config, state


CACHED_TAPS = (0, 1)  # the cache holds both taps' pooled features; a verifier reads a subset (select_columns)


def select_columns(features: torch.Tensor, taps) -> torch.Tensor:
    """The cached [N, 576 + 1280 + 80] rows -> the columns of the verifier's taps and the 80 class scores."""
    edges, start = {}, 0
    for i in CACHED_TAPS:
        edges[i] = (start, start + TAP_CHANNELS[i])
        start += TAP_CHANNELS[i]
    blocks = [features[:, edges[i][0] : edges[i][1]] for i in taps] + [features[:, start:]]
    return torch.cat(blocks, 1).contiguous()


@torch.no_grad()
def picture_rows(model, ssd, rgb: Image.Image, flip: bool) -> dict:
    if flip:
        rgb = rgb.transpose(Image.FLIP_LEFT_RIGHT)
    inputs = ssd(model_input(rgb, model.feature_size))
    p = model.proposals(inputs, verify=False)
    logits, boxes = forward_eval(model, inputs, p)
    own = torch.gather(logits, 2, p.labels[..., None])[..., 0]
    feats = proposal_features([inputs[i] for i in CACHED_TAPS], p)
    return {
        "features": feats[0].half(),
        "labels": p.labels[0],
        "live": p.logit[0] > model.other_class_logit + 0.5,
        "logit": own[0],
        "boxes": cxcywh_to_xyxy(boxes[0]),
    }


def cache_features(model, ssd, pictures: dict, cache: Path, flips, log) -> dict:
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, rows in pictures.items():
        path = cache / f"{name}.pt"
        keys = [r[0] for r in rows]
        if path.is_file():
            saved = torch.load(path)
            if saved["keys"] == keys and saved["flips"] == list(flips):
                out[name] = saved
                continue
        started, items = time.time(), []
        for i, (key, image, boxes, label) in enumerate(rows):
            rgb = Image.open(image).convert("RGB")
            for flip in flips:
                r = picture_rows(model, ssd, rgb, flip)
                r["gt"] = None if boxes is None else normalised(boxes, rgb.size, flip)
                r["classes"] = label
                items.append(r)
            if (i + 1) % 100 == 0:
                log(f"{name}: {i + 1}/{len(rows)} pictures ({time.time() - started:.0f} s)")
        saved = {"keys": keys, "flips": list(flips), "items": items}
        torch.save(saved, path)
        log(f"{name}: {len(rows)} pictures cached in {time.time() - started:.0f} s")
        out[name] = saved
    return out


def normalised(boxes: np.ndarray, size, flip: bool) -> torch.Tensor:
    w, h = size
    b = torch.from_numpy(np.asarray(boxes, np.float32)).reshape(-1, 4) / torch.tensor([w, h, w, h])
    if flip:
        b = torch.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], 1)
    return b


def ground_truth_targets(item, rule, person_only: bool):
    """[K] targets (1, 0, or -1 for no loss)."""
    labels, live, logit, boxes = item["labels"], item["live"], item["logit"], item["boxes"]
    target = torch.where(live, torch.zeros_like(logit), torch.full_like(logit, -1.0))
    gt, classes = item["gt"], torch.as_tensor(item["classes"])
    if len(gt):
        iou = box_iou(boxes, gt)[0]  # [K, G]
        taken = torch.zeros_like(live)
        for g in range(len(gt)):  # objects in annotation order
            fits = live & ~taken & (labels == classes[g]) & (iou[:, g] >= rule["match_iou"])
            if fits.any():
                q = torch.where(fits, logit, torch.full_like(logit, -1e9)).argmax()
                target[q], taken[q] = 1.0, True
    if person_only:  # Penn-Fudan annotates pedestrians only: other classes are unknown there
        target[labels != COCO80_NAMES.index("person")] = -1.0
    return target


def weak_targets(item, rule):
    labels, live, logit, boxes = item["labels"], item["live"], item["logit"], item["boxes"]
    target = torch.full_like(logit, -1.0)
    mine = live & (labels == item["classes"])
    if not mine.any():
        return target
    q = torch.where(mine, logit, torch.full_like(logit, -1e9)).argmax()
    iou = box_iou(boxes, boxes[q : q + 1])[0][:, 0]
    target[live & (labels != item["classes"]) & (iou >= rule["weak_confusion_iou"])] = 0.0
    target[mine & (iou >= rule["weak_duplicate_iou"])] = 0.0
    target[q] = 1.0
    return target


def ground_truth_classes(item, rule, person_only: bool):
    """[K] the class of the object each live query's final box covers (IoU >= match_iou with an annotated box, the
    best-overlapping one), -1 where none: class_posterior's targets, whatever class the query itself carries."""
    classes = torch.full(item["labels"].shape, -1, dtype=torch.long)
    gt = item["gt"]
    if len(gt):
        iou = box_iou(item["boxes"], gt)[0]
        best, which = iou.max(1)
        on = item["live"] & (best >= rule["match_iou"])
        classes[on] = torch.as_tensor(item["classes"], dtype=torch.long)[which[on]]
    if person_only:  # an unannotated object may stand beside a pedestrian; a box on a pedestrian is one
        classes[classes != COCO80_NAMES.index("person")] = -1
    return classes


def weak_classes(item, rule):
    """[K] the file name's class on the queries covering its best query's box (IoU >= weak_confusion_iou)."""
    classes = torch.full(item["labels"].shape, -1, dtype=torch.long)
    labels, live, logit, boxes = item["labels"], item["live"], item["logit"], item["boxes"]
    mine = live & (labels == item["classes"])
    if mine.any():
        q = torch.where(mine, logit, torch.full_like(logit, -1e9)).argmax()
        iou = box_iou(boxes, boxes[q : q + 1])[0][:, 0]
        classes[live & (iou >= rule["weak_confusion_iou"])] = int(item["classes"])
    return classes


def anchor_log_softmax(features, labels, num_classes: int = 80):
    """log softmax of the anchor's 80 SSDLite logits at each row's class, from the cached sigmoids (float16: the
    logits come back within ~1e-3 where they matter, the large ones)."""
    s = features[:, -num_classes:].float().clamp(1e-7, 1 - 1e-4)
    logits = torch.log(s) - torch.log1p(-s)
    return torch.gather(torch.log_softmax(logits, -1), 1, labels[:, None])[:, 0]


def build_rows(cached: dict, rule: dict, holdout_fraction: float, seed: int):
    """(train, held) each a dict of features [N,F] f16, labels [N], logit [N], target [N] (focal: 1, 0, -1 none),
    classes [N] (class_posterior: the covered object's class, -1 none), weight [N], picture [N], kind [N] (0 ground
    truth, 1 weak, 2 texture)."""
    parts = {"train": [], "held": []}
    picture = 0
    for name, saved in cached.items():
        kind = 1 if name in WEAK else 2 if name == "textures" else 0
        per_key = len(saved["flips"])
        for i, item in enumerate(saved["items"]):
            key = saved["keys"][i // per_key]
            classes = torch.full(item["labels"].shape, -1, dtype=torch.long)
            if kind == 0:
                target = ground_truth_targets(item, rule, person_only=name == "pennfudan")
                classes = ground_truth_classes(item, rule, person_only=name == "pennfudan")
            elif kind == 1:
                target = weak_targets(item, rule)
                classes = weak_classes(item, rule)
            else:
                target = torch.where(
                    item["live"], torch.zeros_like(item["logit"]), torch.full_like(item["logit"], -1.0)
                )
            keep = (target >= 0) | (classes >= 0)
            if not keep.any():
                continue
            digest = hashlib.sha256(f"{seed}:{name}:{key}".encode()).digest()
            part = "held" if digest[0] / 256 < holdout_fraction else "train"
            n = int(keep.sum())
            weight = rule["weak_weight"] if kind == 1 else 1.0
            parts[part].append(
                {
                    "features": item["features"][keep],
                    "labels": item["labels"][keep],
                    "logit": item["logit"][keep],
                    "target": target[keep],
                    "classes": classes[keep],
                    "weight": torch.full((n,), float(weight)),
                    "picture": torch.full((n,), picture, dtype=torch.long),
                    "kind": torch.full((n,), kind, dtype=torch.long),
                }
            )
            picture += 1
    return tuple({k: torch.cat([r[k] for r in parts[p]]) for k in parts[p][0]} for p in ("train", "held"))


def focal(logits, target, alpha: float, gamma: float):
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    return ce * (1 - p_t) ** gamma * (alpha * target + (1 - alpha) * (1 - target))


def delta_of(linear, features, labels, mean, std, chunk=65536):
    out = []
    for s in range(0, len(features), chunk):
        x = (features[s : s + chunk].float() - mean) / std
        d = linear(x)
        out.append(torch.gather(d, 1, labels[s : s + chunk, None])[:, 0])
    return torch.cat(out)


def focal_rows(rows: dict) -> dict:
    keep = rows["target"] >= 0
    return {k: v[keep] for k, v in rows.items()}


def held_out_report(linear, held, mean, std, optim_cfg, mode="logit") -> dict:
    with torch.no_grad():
        delta = delta_of(linear, held["features"], held["labels"], mean, std)
        delta = -softplus(delta) if mode == "veto" else delta
        new = held["logit"] + delta
        loss = (focal(new, held["target"], optim_cfg["focal_alpha"], optim_cfg["focal_gamma"]) * held["weight"]).sum()
        loss = float(loss / held["weight"].sum())
        # weak pictures: is the right query (target 1) above every other known-wrong query of its picture?
        weak = held["kind"] == 1
        right = wrong = 0
        for pic in torch.unique(held["picture"][weak]):
            rows = held["picture"] == pic
            t, s = held["target"][rows], new[rows]
            if (t == 1).any() and (t == 0).any():
                ok = bool(s[t == 1].max() > s[t == 0].max())
                right, wrong = right + ok, wrong + (not ok)
        return {"loss": round(loss, 6), "weak_top_right": right, "weak_top_wrong": wrong}


def train_linear(train, held, num_features, num_classes, optim_cfg, seed, log, mode="logit"):
    torch.manual_seed(seed)
    live = train["features"].float()
    mean, std = live.mean(0), live.std(0).clamp(min=1e-3)
    del live
    linear = torch.nn.Linear(num_features, num_classes)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.constant_(linear.bias, VETO_BIAS if mode == "veto" else 0.0)
    opt = torch.optim.AdamW(linear.parameters(), lr=optim_cfg["lr"], weight_decay=optim_cfg["weight_decay"])
    n, batch = len(train["target"]), int(optim_cfg["batch_rows"])
    history = []
    report = held_out_report(linear, held, mean, std, optim_cfg, mode)
    history.append({"epoch": 0, **report})
    log(f"epoch 0: {report}")
    # epoch 0 (no verifier) competes: if training never beats it on the held-out rows, the verifier stays a no-op
    best = (report["loss"], 0, {k: v.clone() for k, v in linear.state_dict().items()})
    for epoch in range(1, int(optim_cfg["epochs"]) + 1):
        order = torch.randperm(n)
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            x = (train["features"][idx].float() - mean) / std
            d = torch.gather(linear(x), 1, train["labels"][idx, None])[:, 0]
            d = -softplus(d) if mode == "veto" else d
            w = train["weight"][idx]
            loss = (
                focal(train["logit"][idx] + d, train["target"][idx], optim_cfg["focal_alpha"], optim_cfg["focal_gamma"])
                * w
            ).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        report = held_out_report(linear, held, mean, std, optim_cfg, mode)
        history.append({"epoch": epoch, **report})
        log(f"epoch {epoch}: {report}")
        if report["loss"] < best[0]:
            best = (report["loss"], epoch, {k: v.clone() for k, v in linear.state_dict().items()})
    linear.load_state_dict(best[2])
    # fold the standardisation: W (x - m) / s + b = (W / s) x + (b - W m / s)
    with torch.no_grad():
        w = linear.weight / std
        b = linear.bias - (linear.weight * (mean / std)).sum(1)
    return {"weight": w, "bias": b}, best[1], history


def class_rows(rows: dict) -> dict:
    keep = rows["classes"] >= 0
    return {k: v[keep] for k, v in rows.items()}


def posterior_loss(linear, rows, mean, std, chunk=65536):
    total = 0.0
    with torch.no_grad():
        for s in range(0, len(rows["classes"]), chunk):
            x = (rows["features"][s : s + chunk].float() - mean) / std
            ce = F.cross_entropy(linear(x), rows["classes"][s : s + chunk], reduction="none")
            total += float((ce * rows["weight"][s : s + chunk]).sum())
    return total / float(rows["weight"].sum())


def train_posterior(train, held, num_features, num_classes, optim_cfg, seed, log):
    """class_posterior: the linear layer as a softmax classifier of the covered object's class (weighted cross
    entropy; the held-out rows pick the epoch), then the scale that minimises v3's focal loss on the held-out
    rows' focal targets (a grid over 0-2: 0 is v3 itself)."""
    torch.manual_seed(seed)
    rows, held_rows = class_rows(train), class_rows(held)
    live = rows["features"].float()
    mean, std = live.mean(0), live.std(0).clamp(min=1e-3)
    del live
    linear = torch.nn.Linear(num_features, num_classes)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    opt = torch.optim.AdamW(linear.parameters(), lr=optim_cfg["lr"], weight_decay=optim_cfg["weight_decay"])
    n, batch = len(rows["classes"]), int(optim_cfg["batch_rows"])
    log(f"class rows: train {n}, held {len(held_rows['classes'])}")
    history, best = [{"epoch": 0, "ce": round(posterior_loss(linear, held_rows, mean, std), 6)}], None
    for epoch in range(1, int(optim_cfg["epochs"]) + 1):
        order = torch.randperm(n)
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            x = (rows["features"][idx].float() - mean) / std
            w = rows["weight"][idx]
            loss = (F.cross_entropy(linear(x), rows["classes"][idx], reduction="none") * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        ce = posterior_loss(linear, held_rows, mean, std)
        history.append({"epoch": epoch, "ce": round(ce, 6)})
        log(f"epoch {epoch}: held-out cross entropy {ce:.4f}")
        if best is None or ce < best[0]:
            best = (ce, epoch, {k: v.clone() for k, v in linear.state_dict().items()})
    linear.load_state_dict(best[2])
    focal_held = focal_rows(held)
    with torch.no_grad():
        x = (focal_held["features"].float() - mean) / std
        log_q = torch.gather(torch.log_softmax(linear(x), -1), 1, focal_held["labels"][:, None])[:, 0]
        swap = log_q - anchor_log_softmax(focal_held["features"], focal_held["labels"])
        fits = []
        for scale in [i / 10 for i in range(21)]:
            loss = (
                focal(
                    focal_held["logit"] + scale * swap,
                    focal_held["target"],
                    optim_cfg["focal_alpha"],
                    optim_cfg["focal_gamma"],
                )
                * focal_held["weight"]
            )
            fits.append((float(loss.sum() / focal_held["weight"].sum()), scale))
        w = linear.weight / std
        b = linear.bias - (linear.weight * (mean / std)).sum(1)
    loss, scale = min(fits)
    log(f"scale {scale} (held-out focal {loss:.6f}; scale 0: {fits[0][0]:.6f})")
    history.append({"scale_fit": [{"scale": s, "focal": round(v, 6)} for v, s in fits]})
    return {"weight": w, "bias": b}, best[1], history, scale


def train_verifier(config: dict, data_root: Path, log) -> dict:
    """The whole recipe for one config: the release checkpoint dict (base weights + trained verifier)."""
    base = REPO / config["base_checkpoint"]
    model, model_config, state = load_release(base, config["verifier"])
    ssd = SsdInputs().eval()
    pictures = training_pictures(config, data_root)
    log("pictures: " + ", ".join(f"{k} {len(v)}" for k, v in pictures.items()))
    flips = (False, True) if config["data"].get("flip", True) else (False,)
    cached = cache_features(model, ssd, pictures, REPO / config["cache_dir"], flips, log)
    train, held = build_rows(cached, config["targets"], config["data"]["holdout_fraction"], config["seed"])
    for rows in (train, held):
        rows["features"] = select_columns(rows["features"], model.verifier_taps)
    log(
        f"rows: train {len(train['target'])} ({int((train['target'] == 1).sum())} right), "
        f"held {len(held['target'])} ({int((held['target'] == 1).sum())} right)"
    )
    linear = model.verifier.linear
    if model.verifier.mode == "class_posterior":
        folded, epoch, history, scale = train_posterior(
            train, held, linear.in_features, linear.out_features, config["optim"], config["seed"], log
        )
        model.verifier.scale.fill_(scale)
    else:
        folded, epoch, history = train_linear(
            focal_rows(train),
            focal_rows(held),
            linear.in_features,
            linear.out_features,
            config["optim"],
            config["seed"],
            log,
            model.verifier.mode,
        )
    with torch.no_grad():
        linear.weight.copy_(folded["weight"])
        linear.bias.copy_(folded["bias"])
    model_config["name"] = config["name"]
    model_config["verifier_training"] = {**config, "best_epoch": epoch, "history": history}
    base_bytes = base.read_bytes()
    return {
        "model": model.state_dict(),
        "config": model_config,
        "step": state.get("step"),
        "released_from": state.get("released_from"),
        "verifier_of": {"file": base.name, "sha256": hashlib.sha256(base_bytes).hexdigest()},
    }
