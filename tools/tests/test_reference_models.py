"""Config detection, strict loading and small configurations of our reference models (no reference data
needed except the shape lists in ../shared/reference for the config tests)."""
import json

import numpy as np
import pytest
import torch

from webdetr_tools.checkpoint import load_checkpoint, save_checkpoint
from webdetr_tools.config import ModelConfig, config_from_checkpoint
from webdetr_tools.models import KeyMismatchError, build_model, grid_sample_core, model_from_checkpoint
from webdetr_tools.weights import synthetic_state_dict


def empty_state_dict(shapes):
    return {k: torch.empty(s) for k, s in shapes.items()}


def reference_keys(shared_dir, variant):
    folder = shared_dir / "reference" / variant
    return json.loads((folder / "state_dict_shapes.json").read_text()), json.loads((folder / "args.json").read_text())


@pytest.mark.parametrize(
    "variant,expected",
    [
        (
            "deformable_plain",
            dict(
                family="deformable-detr",
                variant="plain",
                with_box_refine=False,
                two_stage=False,
                num_queries=300,
                num_classes=91,
                num_feature_levels=4,
                dim_feedforward=1024,
            ),
        ),
        ("deformable_refine", dict(family="deformable-detr", variant="refine", with_box_refine=True, two_stage=False)),
        (
            "deformable_two_stage",
            dict(family="deformable-detr", variant="two-stage", with_box_refine=True, two_stage=True, num_queries=300),
        ),
        (
            "updetr_pretrain",
            dict(
                family="up-detr",
                variant="pretrain",
                pre_norm=True,
                feature_recon=True,
                num_queries=100,
                num_patches=10,
                num_classes=2,
                dim_feedforward=2048,
            ),
        ),
    ],
)
def test_config_detection(shared_dir, variant, expected):
    shapes, args = reference_keys(shared_dir, variant)
    config = config_from_checkpoint(empty_state_dict(shapes), args)
    for name, value in expected.items():
        assert getattr(config, name) == value, name
    assert (config.hidden_dim, config.nheads, config.enc_layers, config.dec_layers) == (256, 8, 6, 6)
    assert config.backbone == "resnet50"
    # the same config comes from the keys alone
    assert config_from_checkpoint(empty_state_dict(shapes), {}, {"num_queries": config.num_queries}) == config


def test_args_disagreeing_with_keys_are_named(shared_dir):
    shapes, args = reference_keys(shared_dir, "deformable_refine")
    args = dict(args, with_box_refine=False, enc_layers=3)
    with pytest.raises(ValueError) as err:
        config_from_checkpoint(empty_state_dict(shapes), args)
    assert "with_box_refine" in str(err.value) and "enc_layers" in str(err.value)


def test_strict_loading_names_missing_and_unknown_keys(shared_dir):
    shapes, args = reference_keys(shared_dir, "deformable_plain")
    config = config_from_checkpoint(empty_state_dict(shapes), args)
    model = build_model(config)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    del state["transformer.level_embed"]
    del state["backbone.0.body.layer2.0.bn1.running_var"]
    state["transformer.decoder.layers.0.extra.weight"] = torch.zeros(1)
    state["bogus"] = torch.zeros(1)
    with pytest.raises(KeyMismatchError) as err:
        model.load_official_state_dict(state)
    message = str(err.value)
    for key in (
        "transformer.level_embed",
        "backbone.0.body.layer2.0.bn1.running_var",
        "transformer.decoder.layers.0.extra.weight",
        "bogus",
    ):
        assert key in message
    assert sorted(err.value.missing) == ["backbone.0.body.layer2.0.bn1.running_var", "transformer.level_embed"]
    assert sorted(err.value.unexpected) == ["bogus", "transformer.decoder.layers.0.extra.weight"]


def test_model_keys_are_exactly_the_official_keys(shared_dir):
    for variant in ("deformable_plain", "deformable_refine", "deformable_two_stage", "updetr_pretrain"):
        shapes, args = reference_keys(shared_dir, variant)
        model = build_model(config_from_checkpoint(empty_state_dict(shapes), args))
        ours = {k: list(v.shape) for k, v in model.state_dict().items()}
        assert ours == shapes, variant
        # same order too: with shared (aliased) modules the official load order decides which value wins
        assert list(ours) == list(shapes), variant


def test_aliased_heads_take_the_last_loaded_value(shared_dir):
    """Official refinement shares transformer.decoder.bbox_embed.i with bbox_embed.i; bbox_embed.i loads last."""
    shapes, args = reference_keys(shared_dir, "deformable_two_stage")
    state = synthetic_state_dict({k: s for k, s in shapes.items()})
    model, _ = model_from_checkpoint(state, args)
    assert model.transformer.decoder.bbox_embed[2] is model.bbox_embed[2]
    assert torch.equal(model.bbox_embed[2].layers[0].weight, state["bbox_embed.2.layers.0.weight"])
    assert torch.equal(model.class_embed[6].weight, state["class_embed.6.weight"])


SMALL = dict(
    hidden_dim=64,
    nheads=4,
    enc_layers=2,
    dec_layers=2,
    dim_feedforward=128,
    enc_n_points=2,
    dec_n_points=2,
    num_classes=7,
)
SMALL_DETR = dict(SMALL, enc_n_points=0, dec_n_points=0)  # DETR has no sampling points
SMALL_CONFIGS = {
    "single-scale": ModelConfig(
        family="deformable-detr", variant="plain", num_queries=30, num_feature_levels=1, **SMALL
    ),
    "refine-3-levels": ModelConfig(
        family="deformable-detr", variant="refine", num_queries=30, num_feature_levels=3, with_box_refine=True, **SMALL
    ),
    "two-stage": ModelConfig(
        family="deformable-detr",
        variant="two-stage",
        num_queries=30,
        num_feature_levels=4,
        with_box_refine=True,
        two_stage=True,
        **SMALL,
    ),
    "updetr-detection": ModelConfig(
        family="up-detr",
        variant="detection",
        num_queries=20,
        num_feature_levels=1,
        pre_norm=False,
        num_patches=0,
        **SMALL_DETR,
    ),
    "updetr-pretrain": ModelConfig(
        family="up-detr",
        variant="pretrain",
        num_queries=20,
        num_feature_levels=1,
        pre_norm=True,
        num_patches=4,
        feature_recon=False,
        **SMALL_DETR,
    ),
}


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_small_config_round_trip_and_run(tmp_path, name):
    config = SMALL_CONFIGS[name]
    shapes = {k: list(v.shape) for k, v in build_model(config).state_dict().items()}
    args = dict(config.to_dict())
    save_checkpoint(tmp_path / "small.pth", synthetic_state_dict(shapes, seed=3), args)
    state, loaded_args = load_checkpoint(tmp_path / "small.pth")
    model, detected = model_from_checkpoint(state, loaded_args)
    assert detected == config
    images = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        if config.variant == "pretrain":
            patches = torch.randn(1, 3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
            out = model(images, patches)
            queries = 3 * config.num_queries // config.num_patches
        else:
            out = model(images)
            queries = config.num_queries
    assert tuple(out["pred_logits"].shape) == (1, queries, config.num_logits)
    assert tuple(out["pred_boxes"].shape) == (1, queries, 4)
    assert torch.isfinite(out["pred_logits"]).all()
    boxes = out["pred_boxes"]
    assert ((boxes >= 0) & (boxes <= 1)).all()


def test_swapped_core_sees_the_documented_shapes():
    config = SMALL_CONFIGS["refine-3-levels"]
    shapes = {k: list(v.shape) for k, v in build_model(config).state_dict().items()}
    model, _ = model_from_checkpoint(synthetic_state_dict(shapes), config.to_dict())
    images = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(images)
    calls = []

    def recording_core(value, reference_points, offsets, logits, spatial_shapes):
        calls.append(
            (
                tuple(value.shape),
                tuple(reference_points.shape),
                tuple(offsets.shape),
                tuple(logits.shape),
                list(spatial_shapes),
            )
        )
        return grid_sample_core(value, reference_points, offsets, logits, spatial_shapes)

    model.set_core(recording_core)
    with torch.no_grad():
        got = model(images)
    assert torch.equal(got["pred_logits"], expected["pred_logits"])
    assert len(calls) == config.enc_layers + config.dec_layers
    shapes_l = [(12, 16), (6, 8), (3, 4)]
    s = sum(h * w for h, w in shapes_l)
    m, d, lv, p = 4, 16, 3, 2
    assert calls[0] == ((1, s, m, d), (1, s, lv, 2), (1, s, m, lv, p, 2), (1, s, m, lv * p), shapes_l)
    assert calls[2] == ((1, s, m, d), (1, 30, lv, 2), (1, 30, m, lv, p, 2), (1, 30, m, lv * p), shapes_l)
    assert calls[3][1] == (1, 30, lv, 4)  # refined boxes after the first decoder layer


def test_synthetic_weight_rule():
    shapes = {"b.running_var": [3], "a.weight": [2, 3, 1, 1], "c.weight": [4], "c.bias": [4], "d.running_mean": [2]}
    state = synthetic_state_dict(shapes, seed=1)
    rng = np.random.RandomState(1)
    draws = {k: rng.standard_normal(size=tuple(shapes[k])) for k in sorted(shapes)}
    assert list(state) == list(shapes)
    np.testing.assert_array_equal(state["a.weight"].numpy(), (draws["a.weight"] / np.sqrt(3)).astype(np.float32))
    np.testing.assert_array_equal(
        state["b.running_var"].numpy(), (0.5 + 0.5 * np.abs(draws["b.running_var"])).astype(np.float32)
    )
    np.testing.assert_array_equal(state["c.weight"].numpy(), (1 + 0.1 * draws["c.weight"]).astype(np.float32))
    np.testing.assert_array_equal(state["c.bias"].numpy(), (0.1 * draws["c.bias"]).astype(np.float32))
    assert all(t.dtype == torch.float32 for t in state.values())
