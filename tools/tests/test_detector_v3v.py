"""Detector v3v's proposal verifier (detector_v2/verifier.py, verifier_train.py): the box pooling is each cell's share
of the box's area, a zero verifier leaves v3 unchanged, a trained one moves only the live proposals' own-class
logit (so the final logit is v3's plus the delta), and the training targets follow the rules the module docstring
states."""
import json

import pytest
import torch

from webdetr_tools.detector_v2 import model_v3
from webdetr_tools.detector_v2.config import REPO, load_config
from webdetr_tools.detector_v2.proposals import Proposals
from experiments.detector_verifier import overridden
from webdetr_tools.detector_v2.verifier import ProposalVerifier, box_pool_weights, pool, softplus, verified
from webdetr_tools.detector_v2.verifier_train import (
    ground_truth_classes,
    ground_truth_targets,
    select_columns,
    weak_classes,
    weak_targets,
)


def _config(verifier=None):
    config = json.loads(json.dumps(load_config(REPO / "tools" / "configs" / "detector_v3.json")))
    config["model"].update(hidden_dim=32, nheads=2, enc_layers=1, dec_layers=2, dim_feedforward=64, num_queries=12)
    config["model"].update(enc_n_points=2, dec_n_points=2)
    if verifier:
        config["model"]["proposals"]["verifier"] = verifier
    return config


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    taps = [torch.rand(1, c, s, s, generator=g) * 6 for c, s in ((576, 19), (1280, 10), (512, 5))]
    xy = torch.rand(1, 1917, 2, generator=g) * 0.8
    wh = torch.rand(1, 1917, 2, generator=g) * 0.3 + 0.02
    logits = torch.randn(1, 1917, 80, generator=g) * 3
    return [*taps, torch.cat([xy, xy + wh], -1), logits]


def test_box_pool_weights_are_each_cells_share_of_the_box():
    # x from 0.2 to 0.5 on a 10-grid: cells 2, 3, 4 fully; y from 0.15 to 0.35: half of 1, all of 2, half of 3
    w = box_pool_weights(torch.tensor([[[0.35, 0.25, 0.3, 0.2]]]), 10).reshape(10, 10)
    want = torch.zeros(10, 10)
    want[1, 2:5], want[2, 2:5], want[3, 2:5] = 0.5, 1.0, 0.5
    assert torch.allclose(w, want / want.sum(), atol=1e-6)
    tap = torch.rand(1, 3, 10, 10)
    pooled = pool(tap, w.reshape(1, 1, 100))[0, 0]
    assert torch.allclose(pooled, (tap[0] * (want / want.sum())).sum((1, 2)), atol=1e-6)


def test_a_box_narrower_than_a_cell_reads_the_cells_about_its_centre():
    w = box_pool_weights(torch.tensor([[[0.55, 0.55, 0.001, 0.001], [0.5, 0.5, 0.0, 0.0]]]), 10).reshape(2, 10, 10)
    assert w[0, 5, 5] == pytest.approx(1.0)  # widened to one cell, still inside cell (5, 5)
    assert torch.allclose(w[1, 4:6, 4:6], torch.full((2, 2), 0.25))  # centred on a corner: four quarters
    assert torch.allclose(w.sum((1, 2)), torch.ones(2))


def test_zero_verifier_leaves_v3_unchanged_and_a_trained_one_adds_its_delta_to_the_final_logits():
    torch.manual_seed(0)
    plain = model_v3.build_model_v3(_config()).eval()
    checked = model_v3.build_model_v3(_config({"taps": [0, 1]})).eval()
    missing, unexpected = checked.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and sorted(missing) == ["verifier.linear.bias", "verifier.linear.weight", "verifier.scale"]
    with torch.no_grad():  # non-zero heads so the final logits are not just the base
        for head in list(plain.class_embed) + list(checked.class_embed):
            head.weight.normal_(0, 0.1)
        checked.load_state_dict(plain.state_dict(), strict=False)
    inputs = _inputs()
    logits0, boxes0 = model_v3.forward_eval(plain, inputs)
    logits1, boxes1 = model_v3.forward_eval(checked, inputs)
    assert torch.equal(logits0, logits1) and torch.equal(boxes0, boxes1)

    with torch.no_grad():
        checked.verifier.linear.weight.normal_(0, 0.01)
        checked.verifier.linear.bias.normal_(0, 1.0)
    p = checked.proposals(inputs, verify=False)
    delta = checked.verifier([inputs[0], inputs[1]], p)
    live = p.logit > checked.other_class_logit + 0.5
    logits2, boxes2 = model_v3.forward_eval(checked, inputs)
    assert torch.equal(boxes2, boxes0)  # the verifier never moves a box
    own = p.labels[..., None]
    moved = torch.gather(logits2 - logits0, 2, own)[..., 0]
    assert torch.allclose(moved, torch.where(live, delta, torch.zeros_like(delta)), atol=1e-5)
    other = (logits2 - logits0).scatter(2, own, 0.0)
    assert other.abs().max() < 1e-5  # the other 79 classes are v3's


def test_verified_keeps_suppressed_slots_at_their_logit():
    p = Proposals(
        torch.rand(1, 3, 4),
        torch.tensor([[0, 1, 2]]),
        torch.tensor([[2.0, -12.0, -1.0]]),
        torch.zeros(1, 3, 80),
        torch.zeros(1, 3, dtype=torch.long),
        (0, 0),
    )
    out = verified(p, torch.tensor([[1.0, 5.0, -2.0]]), -12.0)
    assert out.logit.tolist() == [[3.0, -12.0, -3.0]]
    assert p.logit.tolist() == [[2.0, -12.0, -1.0]]  # the input is not changed in place


def _item(labels, logit, boxes, live=None, gt=None, classes=None):
    n = len(labels)
    return {
        "labels": torch.tensor(labels),
        "logit": torch.tensor(logit),
        "boxes": torch.tensor(boxes, dtype=torch.float32),
        "live": torch.ones(n, dtype=torch.bool) if live is None else torch.tensor(live),
        "gt": None if gt is None else torch.tensor(gt, dtype=torch.float32).reshape(-1, 4),
        "classes": classes,
    }


RULE = {"match_iou": 0.5, "weak_confusion_iou": 0.6, "weak_duplicate_iou": 0.5}
A, B, FAR = [0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.5, 0.52], [0.6, 0.6, 0.9, 0.9]


def test_ground_truth_targets_one_right_query_per_object_duplicates_wrong():
    # queries: dog on A (best), dog on B (duplicate), bird on A (wrong class), dog far away, a suppressed slot
    item = _item(
        [16, 16, 14, 16, 16], [1.0, 0.5, 2.0, 0.0, -12.0], [A, B, A, FAR, A], [True] * 4 + [False], gt=[A], classes=[16]
    )
    assert ground_truth_targets(item, RULE, person_only=False).tolist() == [1.0, 0.0, 0.0, 0.0, -1.0]
    people = _item([0, 16], [1.0, 1.0], [A, FAR], gt=[A], classes=[0])
    assert ground_truth_targets(people, RULE, person_only=True).tolist() == [1.0, -1.0]


def test_weak_targets_right_class_up_other_classes_on_its_box_down_rest_unknown():
    # the photo is a bird (14): its best bird query is right; dog on the same box and a second bird there are
    # wrong; a dog far away and a suppressed bird say nothing
    item = _item([16, 14, 14, 16, 14], [2.0, 0.5, 0.1, 1.0, -12.0], [A, A, B, FAR, A], [True] * 4 + [False], classes=14)
    assert weak_targets(item, RULE).tolist() == [0.0, 1.0, 0.0, -1.0, -1.0]
    none = _item([16, 16], [2.0, 1.0], [A, FAR], classes=14)
    assert weak_targets(none, RULE).tolist() == [-1.0, -1.0]


def test_verifier_reads_the_taps_it_was_built_for():
    v = ProposalVerifier((576, 1280))
    p = Proposals(
        torch.rand(1, 2, 4),
        torch.zeros(1, 2, dtype=torch.long),
        torch.zeros(1, 2),
        torch.zeros(1, 2, 80),
        torch.zeros(1, 2, dtype=torch.long),
        (0, 0),
    )
    with pytest.raises(ValueError, match="reads 2 taps"):
        v([torch.rand(1, 576, 19, 19)], p)
    assert v.features([torch.rand(1, 576, 19, 19), torch.rand(1, 1280, 10, 10)], p).shape == (1, 2, 576 + 1280 + 80)


def _proposals(k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Proposals(
        torch.rand(1, k, 4, generator=g) * 0.5 + 0.1,
        torch.randint(0, 80, (1, k), generator=g),
        torch.randn(1, k, generator=g),
        torch.randn(1, k, 80, generator=g) * 3,
        torch.zeros(1, k, dtype=torch.long),
        (0, 0),
    )


def test_veto_only_lowers_and_posterior_at_scale_zero_is_a_no_op():
    taps = [torch.rand(1, 576, 19, 19) * 6, torch.rand(1, 1280, 10, 10) * 6]
    p = _proposals()
    veto = ProposalVerifier((576, 1280), mode="veto")
    assert (veto(taps, p) < 0).all() and veto(taps, p).abs().max() < 0.003  # starts next to nothing
    with torch.no_grad():
        veto.linear.weight.normal_(0, 0.1)
    assert (veto(taps, p) <= 0).all()  # never raises a score, whatever it learned
    posterior = ProposalVerifier((576, 1280), mode="class_posterior")
    with torch.no_grad():
        posterior.linear.weight.normal_(0, 0.1)
    assert torch.equal(posterior(taps, p), torch.zeros(1, 6))
    posterior.scale.fill_(1.0)
    q = torch.log_softmax(posterior.linear(posterior.features(taps, p)), -1)
    want = torch.gather(q - torch.log_softmax(p.class_logits, -1), 2, p.labels[..., None])[..., 0]
    assert torch.allclose(posterior(taps, p), want, atol=1e-6)
    with pytest.raises(ValueError, match="verifier mode"):
        ProposalVerifier(mode="boost")


def test_softplus_in_basic_ops_is_torchs_and_finite():
    z = torch.tensor([-100.0, -5.0, 0.0, 3.0, 100.0])
    assert torch.allclose(softplus(z), torch.nn.functional.softplus(z), atol=1e-6)


def test_class_targets_name_the_covered_object_whatever_class_the_query_carries():
    item = _item([16, 14, 16], [1.0, 0.5, 0.0], [A, B, FAR], gt=[A], classes=[14])
    assert ground_truth_classes(item, RULE, person_only=False).tolist() == [14, 14, -1]
    weak = _item([16, 14, 14], [2.0, 0.5, 0.1], [A, A, FAR], classes=14)
    assert weak_classes(weak, RULE).tolist() == [14, 14, -1]


def test_select_columns_keeps_the_taps_asked_for_and_the_class_scores():
    rows = torch.cat([torch.full((2, 576), 1.0), torch.full((2, 1280), 2.0), torch.full((2, 80), 3.0)], 1)
    assert select_columns(rows, ()).unique().tolist() == [3.0]
    assert select_columns(rows, (1,)).shape == (2, 1360) and select_columns(rows, (1,))[0, 0] == 2.0
    assert torch.equal(select_columns(rows, (0, 1)), rows)


def test_set_overrides_one_entry_and_refuses_unknown_sections():
    config = {"targets": {"weak_weight": 4.0}, "verifier": {"taps": [0, 1]}}
    new = overridden(config, ["targets.weak_weight=1", 'verifier.mode="veto"'])
    assert new == {"targets": {"weak_weight": 1}, "verifier": {"taps": [0, 1], "mode": "veto"}}
    assert config["targets"]["weak_weight"] == 4.0
    with pytest.raises(SystemExit, match="SECTION.KEY=JSON"):
        overridden(config, ["optim.lr=1"])


class _StandInSsd(torch.nn.Module):
    """SsdInputs' outputs (three taps, 1,917 boxes, 80 logits) from a picture, without the fetched graph."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.mix = [torch.randn(c, 3, generator=g) for c in (576, 1280, 512)]
        self.box = torch.randn(1917, 4, generator=g)
        self.logit = torch.randn(1917, 80, generator=g) * 3

    def forward(self, image):
        x = image / 255
        taps = [
            torch.relu(torch.einsum("ck,nkhw->nchw", m, torch.nn.functional.adaptive_avg_pool2d(x, s))).clamp(max=6)
            for m, s in zip(self.mix, (19, 10, 5))
        ]
        mean = x.mean((2, 3))  # [1, 3]: the picture moves every box and logit a little
        xy = torch.sigmoid(self.box[None, :, :2] + mean[:, None, :2]) * 0.8
        wh = torch.sigmoid(self.box[None, :, 2:] + mean[:, None, 1:]) * 0.3 + 0.02
        return [*taps, torch.cat([xy, xy + wh], -1), self.logit[None] + mean[:, :1, None]]


def test_the_package_plan_carries_the_verifier_in_encoder_input():
    from webdetr_tools.export.plan import run_plan
    from webdetr_tools.ship.detector_v2b_package import proposal_plan
    from webdetr_tools.ship.detector_v3_package import V3EncoderInput, V3Forward, v3_dims

    config = _config({"taps": [0, 1]})
    model = model_v3.build_model_v3(config).eval()
    with torch.no_grad():
        for head in model.class_embed:
            head.weight.normal_(0, 0.1)
        model.verifier.linear.weight.normal_(0, 0.01)
        model.verifier.linear.bias.normal_(0, 1.0)
    ssd = _StandInSsd()
    image = torch.rand(1, 3, 300, 300, generator=torch.Generator().manual_seed(1)) * 255
    logits, boxes = V3Forward(model, ssd)(image)
    dims = v3_dims(model, config)
    with torch.no_grad():
        out = run_plan(proposal_plan(model, dims, V3EncoderInput(model, ssd, dims)), {"image": image})
        plain = model_v3.forward_eval(model, ssd(image), model.proposals(ssd(image), verify=False))[0]
    assert (out["pred_logits"] - logits).abs().max() < 1e-4
    assert (out["pred_boxes"] - boxes).abs().max() < 1e-5
    assert (logits - plain).abs().max() > 0.1  # the verifier did move the logits the plan reproduces
