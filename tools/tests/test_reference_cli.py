"""The two CLIs end to end on a tiny UP-DETR reference folder made in tmp_path (fast: small transformer)."""
import json

import numpy as np
import torch
from PIL import Image

from webdetr_tools.config import ModelConfig
from webdetr_tools.models import build_model

import make_synthetic_checkpoint
import reference_forward

CONFIG = ModelConfig(
    family="up-detr",
    variant="pretrain",
    hidden_dim=64,
    nheads=4,
    enc_layers=1,
    dec_layers=1,
    dim_feedforward=64,
    num_queries=20,
    num_feature_levels=1,
    enc_n_points=0,
    dec_n_points=0,
    num_classes=2,
    pre_norm=True,
    num_patches=4,
    feature_recon=True,
)


def test_make_checkpoint_then_forward_with_patches(tmp_path, capsys):
    ref = tmp_path / "ref"
    ref.mkdir()
    shapes = {k: list(v.shape) for k, v in build_model(CONFIG).state_dict().items()}
    (ref / "state_dict_shapes.json").write_text(json.dumps(shapes))
    (ref / "args.json").write_text(json.dumps(CONFIG.to_dict()))
    rng = np.random.RandomState(0)
    Image.fromarray(rng.randint(0, 256, size=(96, 128, 3), dtype=np.uint8)).save(tmp_path / "img.png")

    make_synthetic_checkpoint.main(["--reference-dir", str(ref), "--out", str(tmp_path / "x.pth")])
    out1 = tmp_path / "run1"
    reference_forward.main(
        [
            "--checkpoint",
            str(tmp_path / "x.pth"),
            "--image",
            str(tmp_path / "img.png"),
            "--patches",
            "10,10,60,50",
            "40,30,120,90",
            "--out-dir",
            str(out1),
        ]
    )
    logits = np.load(out1 / "pred_logits.npy")
    boxes = np.load(out1 / "pred_boxes.npy")
    assert logits.shape == (1, 10, 3) and boxes.shape == (1, 10, 4)

    # the same patches as an .npy give the same outputs, and the comparison lines are printed
    from webdetr_tools.models.inputs import crop_patches, load_rgb

    np.save(
        tmp_path / "patches.npy",
        crop_patches(load_rgb(tmp_path / "img.png"), [[10, 10, 60, 50], [40, 30, 120, 90]]).numpy(),
    )
    reference_forward.main(
        [
            "--checkpoint",
            str(tmp_path / "x.pth"),
            "--image",
            str(tmp_path / "img.png"),
            "--patches-npy",
            str(tmp_path / "patches.npy"),
            "--out-dir",
            str(tmp_path / "run2"),
            "--expected-logits",
            str(out1 / "pred_logits.npy"),
            "--expected-boxes",
            str(out1 / "pred_boxes.npy"),
        ]
    )
    printed = capsys.readouterr().out
    assert "logits: max abs diff 0.000e+00" in printed and "boxes: max abs diff 0.000e+00" in printed
    assert torch.isfinite(torch.from_numpy(logits)).all()


def test_eval_resize_rule_matches_official_sizes():
    from webdetr_tools.models.inputs import eval_size, resize_for_eval

    # (w, h) -> (w, h): shorter side 800 unless the longer would exceed 1333
    assert eval_size(512, 384) == (1066, 800)
    assert eval_size(480, 640) == (800, 1066)
    assert eval_size(2000, 500) == (1332, 333)
    assert eval_size(1066, 800) == (1066, 800)
    image = Image.new("RGB", (640, 480))
    assert resize_for_eval(image).size == (1066, 800)
