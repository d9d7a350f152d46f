"""The shipped detector scored on the "first photos" gallery through the webdetr CLI (Node, WASM: the browser's
engine), at the package's suggested threshold: every photo and object-free picture gets the verdict recorded in
tools/results/gallery_<shipped variant>.json (what the model card reports), and no photo has duplicate boxes (issue 34).
A package change that moves a verdict fails here until the results and the card are regenerated
(`tools/eval_gallery.py --out tools/results/gallery_<variant>.json`, which tools/ship_detector.py runs)."""

import json
import shutil
from pathlib import Path

import pytest

from eval_gallery import cli_detections
from webdetr_tools.evaluation.gallery import load_gallery, resolve, score_gallery
from webdetr_tools.ship.detector_reference import SHIPPED_DETECTOR

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
DATA = REPO.parent / "shared" / "data"
MODEL = REPO / "public" / "models" / "detector"
RECORDED = json.loads((TOOLS / "results" / f"gallery_{SHIPPED_DETECTOR}.json").read_text())


def verdicts(report):
    photos = {p["source"]: (p["fully_right"], p["duplicates"]) for p in report["per_photo"]}
    return photos, {e["source"]: e["right"] for e in report["per_object_free"]}


@pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data (the gallery's ImageNet photos)")
@pytest.mark.skipif(shutil.which("node") is None, reason="needs node for the webdetr CLI")
def test_shipped_detector_gets_the_recorded_gallery_verdicts(tmp_path):
    gallery = load_gallery(TOOLS / "gallery" / "first_photos.json")
    manifest = json.loads((MODEL / "manifest.json").read_text())
    threshold = manifest["output"]["scoreThreshold"]
    assert threshold == RECORDED["threshold"], "the package's threshold changed: regenerate the gallery results"
    entries = gallery["photos"] + gallery["object_free"]
    paths = [resolve(e["source"], DATA, tmp_path) for e in entries]
    detections = dict(zip((e["source"] for e in entries), cli_detections(MODEL, paths, "wasm")))
    report = score_gallery(gallery, detections, threshold)
    assert verdicts(report) == verdicts(RECORDED)
    assert (report["fully_right"], report["object_free_silent"]) == (
        RECORDED["fully_right"],
        RECORDED["object_free_silent"],
    )
    assert report["photos_with_duplicates"] == 0
