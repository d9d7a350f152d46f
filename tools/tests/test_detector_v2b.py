"""Detector v2b pieces (no teacher download needed: random heat-maps stand in for it): the peak proposals
equal CenterNet's decode, the model's step-0 output equals its proposals (the teacher's top-K), loading a
v2 checkpoint's shared parts leaves the heads at zero, stride-4 proposals find their level-8 tokens, and
a resumed v2b run equals an uninterrupted one."""
import json

import numpy as np
import torch
from test_detector_v2 import _FakeCache, _FakeTargets

from webdetr_tools.detector_v2.config import REPO, load_config
from webdetr_tools.detector_v2.model_b import build_model_b, forward_eval, load_shared
from webdetr_tools.detector_v2.neck import WH_SCALE
from webdetr_tools.detector_v2.proposals import from_level8, from_teacher, to_rows
from webdetr_tools.teacher.centernet_teacher import decode
from webdetr_tools.training.evaluate import postprocess


def _config(size=64):
    config = json.loads(json.dumps(load_config(REPO / "tools" / "configs" / "detector_v2b.json")))
    config["feature_size"] = size
    config["data"]["sets"] = ["fake"]
    config["augment"]["views"] = 2
    config["model"].update(
        hidden_dim=32, nheads=2, enc_layers=1, dec_layers=2, dim_feedforward=64, num_queries=6, enc_n_points=2
    )
    config["model"]["dec_n_points"] = 2
    config["optim"].update(batch_size=2, epochs=3, lr_drop_epoch=1)
    config["train"].update(checkpoint_every_steps=1, eval_every_steps=10**6, eval_at_start=False, init_from=None)
    return config


def test_committed_v2b_config():
    config = load_config(REPO / "tools" / "configs" / "detector_v2b.json")
    assert config["variant"] == "v2b" and config["model"]["two_stage"] and config["train"]["threads"] == 1
    assert config["train"]["run_dir"] == ".cache/runs/detector_v2b"


def test_peaks_equal_centernet_decode():
    g = torch.Generator().manual_seed(0)
    heat = torch.randn(1, 80, 16, 16, generator=g) * 3
    wh = torch.rand(1, 4, 16, 16, generator=g) * 0.5  # raw head: x16 -> pixels, boxes stay inside 64 px mostly
    rows = decode(heat.sigmoid(), wh * WH_SCALE, k=30)
    boxes, scores, labels = to_rows(from_teacher(heat, wh, 64, 30), [(64, 64)])[0]
    assert np.allclose(scores, rows[:, 4].numpy(), atol=1e-6) and (labels == rows[:, 5].numpy()).all()
    assert np.allclose(boxes, rows[:, :4].clamp(0, 64).numpy(), atol=1e-4)


def test_step0_output_is_the_teachers_top_k_and_shared_parts_load_without_heads():
    config = _config()
    model = build_model_b(config).eval()
    levels = _FakeCache().features([("fake", "a", 0), ("fake", "b", 1)])
    levels[0][:, 192:272] *= 4  # peaky heat-map logits
    levels[0][:, 272:276] = levels[0][:, 272:276].abs()  # box sizes >= 0, as the teacher's
    logits, boxes = forward_eval(model, levels)
    sizes = [(64, 48), (64, 48)]
    got = postprocess(logits, boxes, sizes, k=6)
    want = to_rows(from_level8(levels[0], 64, 6), sizes)
    for (b1, s1, l1), (b2, s2, l2) in zip(got, want):
        assert np.allclose(s1, s2, atol=1e-6) and (l1 == l2).all() and np.allclose(b1, b2, atol=1e-3)
    other = build_model_b(dict(config, seed=1)).state_dict()
    other = {k: v + 1 if "class_embed" in k else v for k, v in other.items()}
    loaded, skipped = load_shared(model, other)
    assert any("encoder.layers" in k for k in loaded) and not any("class_embed" in k for k in loaded)
    assert all((h.weight == 0).all() for h in model.class_embed)


def test_stride4_proposals_find_the_level8_token_of_their_cell():
    model = build_model_b(_config()).eval()
    heat = torch.full((1, 80, 16, 16), -10.0)
    heat[0, 3, 5, 9] = 5.0  # stride-4 (y 5, x 9) -> stride-8 cell (2, 4) -> token 2 * 8 + 4
    p = from_teacher(heat, torch.zeros(1, 4, 16, 16), 64, 6)
    memory = torch.arange(84, dtype=torch.float32)[None, :, None].expand(1, 84, 32)
    model.score_embed.requires_grad_(False)
    q = model.proposal_queries(memory, p)
    extra = model.score_embed(p.class_logits.sigmoid()) + model.label_embed(p.labels)
    assert torch.allclose((q["tgt"] - extra)[0, 0], torch.full((32,), 20.0))


def test_resumed_v2b_run_equals_uninterrupted_run(tmp_path):
    from webdetr_tools.detector_v2.loop import train

    config = _config()
    cache, targets = _FakeCache(), _FakeTargets()
    quiet = dict(log=lambda m: None)
    straight = train(json.loads(json.dumps(config)), cache, targets, tmp_path / "a", max_steps=4, **quiet)
    train(json.loads(json.dumps(config)), cache, targets, tmp_path / "b", max_steps=3, **quiet)
    resumed = train(json.loads(json.dumps(config)), cache, targets, tmp_path / "b", max_steps=1, **quiet)
    assert type(straight).__name__ == "DeformableDETRB"
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    assert not all((h.weight == 0).all() for h in straight.class_embed)  # the residual heads learn
