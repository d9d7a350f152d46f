"""Hugging Face Deformable-DETR checkpoints: safetensors parsing, key mapping, config support, parity with the
outputs the Hugging Face code gave on the same tiny checkpoints (tools/tests/fixtures/hf_deformable, made by
tools/make_hf_fixture.py), post-processing, and export to a package."""
import json
import os
import struct

import numpy as np
import pytest
import torch

from webdetr_tools.artifact_compare import float_differences
from webdetr_tools.export import hf_fixture
from webdetr_tools.export.deformable_segments import deformable_plan
from webdetr_tools.export.exporter import deformable_skeleton, export_checkpoint
from webdetr_tools.export.features import deformable_features
from webdetr_tools.export.huggingface import (
    HFCheckpointError,
    SafetensorsError,
    UnknownKeysError,
    hf_to_official,
    is_huggingface_checkpoint,
    load_huggingface_checkpoint,
    official_to_hf,
    post_process_object_detection,
    read_safetensors,
    reference_model,
    resolve_files,
    write_safetensors,
)
from webdetr_tools.export.manifest import verify_package_files
from webdetr_tools.export.plan import run_plan
from webdetr_tools.export.skeleton import CheckpointKeyError, build_deformable_skeleton, detect_deformable_config

CASES, OUTPUTS = hf_fixture.load_fixture()
TOLERANCE = {"logits": 1e-4, "boxes": 1e-5}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {name: hf_fixture.write_case(case, case["shapes"], root / name) for name, case in CASES["cases"].items()}


# --- safetensors --------------------------------------------------------------------------------------------------


def _raw_file(path, header, data=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_safetensors_round_trip_and_dtypes(tmp_path):
    tensors = {
        "a.weight": torch.randn(3, 4),
        "b": torch.arange(5, dtype=torch.int64),
        "half": torch.tensor([1.5, -2.0], dtype=torch.float16),
        "scalar": torch.tensor(3.0),
    }
    write_safetensors(tmp_path / "x.safetensors", tensors, metadata={"format": "pt"})
    back = read_safetensors(tmp_path / "x.safetensors")
    assert set(back) == set(tensors)
    assert torch.equal(back["a.weight"], tensors["a.weight"]) and torch.equal(back["b"], tensors["b"])
    assert back["half"].dtype == torch.float32 and back["half"].tolist() == [1.5, -2.0]
    assert back["scalar"].shape == () and back["scalar"].item() == 3.0
    # bf16 written by hand as the spec lays it out: the upper 16 bits of the float32
    bf16 = np.array([1.0, -0.5, 3.0], dtype=np.float32).view(np.uint32) >> 16
    _raw_file(
        tmp_path / "bf.safetensors",
        {"__metadata__": {"format": "pt"}, "w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}},
        bf16.astype("<u2").tobytes(),
    )
    assert read_safetensors(tmp_path / "bf.safetensors")["w"].tolist() == [1.0, -0.5, 3.0]


@pytest.mark.parametrize(
    "case,message",
    [
        ("length", "header length"),
        ("json", "not UTF-8 JSON"),
        ("list", "not a JSON object"),
        ("offsets", "data_offsets"),
        ("overlap", "overlap"),
        ("dtype", "unsupported dtype"),
        ("short", "too short"),
        ("entry", "malformed entry"),
    ],
)
def test_safetensors_bad_headers_are_named(tmp_path, case, message):
    path = tmp_path / "bad.safetensors"
    data = np.zeros(4, np.float32).tobytes()
    if case == "length":
        path.write_bytes(struct.pack("<Q", 10**9) + b"{}")
    elif case == "json":
        path.write_bytes(struct.pack("<Q", 5) + b"{oops")
    elif case == "list":
        _raw_file(path, [1, 2])
    elif case == "offsets":
        _raw_file(path, {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}, data)
    elif case == "overlap":
        _raw_file(
            path,
            {
                "w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                "v": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]},
            },
            data,
        )
    elif case == "dtype":
        _raw_file(path, {"w": {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]}}, data)
    elif case == "short":
        path.write_bytes(b"\x01\x02")
    else:
        _raw_file(path, {"w": {"dtype": "F32", "shape": [4]}}, data)
    with pytest.raises(SafetensorsError, match=message):
        read_safetensors(path)


# --- files, keys, configs -----------------------------------------------------------------------------------------


def test_format_detection_and_file_resolution(checkpoints, tmp_path):
    plain, refine = checkpoints["plain"], checkpoints["box-refine"]
    for path in (plain, plain / "model.safetensors", plain / "config.json", refine, refine / "pytorch_model.bin"):
        assert is_huggingface_checkpoint(path)
    assert resolve_files(plain).kind == "safetensors" and resolve_files(refine / "config.json").kind == "bin"
    official = tmp_path / "official.pth"
    torch.save({"model": {}, "args": {}}, official)
    assert not is_huggingface_checkpoint(official)
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "model.safetensors").write_bytes((plain / "model.safetensors").read_bytes())
    with pytest.raises(HFCheckpointError, match="needs its config.json"):
        resolve_files(lone / "model.safetensors")
    (lone / "config.json").write_text("{}")
    (lone / "model.safetensors").unlink()
    with pytest.raises(HFCheckpointError, match="no model.safetensors"):
        resolve_files(lone)


@pytest.mark.parametrize("name", sorted(CASES["cases"]))
def test_key_mapping_round_trip(name):
    """Every key of the Hugging Face model maps to the official layout our skeleton expects, and back."""
    case = CASES["cases"][name]
    config = case["config"]
    hf_keys = [k for k, _ in case["shapes"]]
    hf = hf_fixture.case_state_dict(case, case["shapes"])
    official = hf_to_official(hf, config)
    checkpoint_args = load_args(config)
    dims = detect_deformable_config(official, checkpoint_args["args"])
    dims["backbone_spec"] = checkpoint_args["spec"]
    skeleton = build_deformable_skeleton(dims, official).state_dict()
    assert set(official) == set(skeleton)
    assert all(official[k].shape == skeleton[k].shape for k in skeleton)
    assert set(official_to_hf(official, config)) == set(hf_keys)
    back = official_to_hf(official, config)
    assert all(torch.equal(back[k], hf[k]) for k in hf_keys)
    # what HF's safetensors keep of tied modules maps to the same official weights
    saved = hf_fixture.saved_keys(dict(case, save="dedup"), hf_keys)
    dedup = hf_to_official({k: hf[k] for k in saved}, config)
    assert set(dedup) == set(official) and all(torch.equal(dedup[k], official[k]) for k in official)


def load_args(config):
    from webdetr_tools.export.huggingface import backbone_spec, official_args

    return {"args": official_args(config), "spec": backbone_spec(config)[0]}


def test_unknown_and_missing_keys_are_named():
    case = CASES["cases"]["plain"]
    hf = hf_fixture.case_state_dict(case, case["shapes"])
    extra = dict(
        hf, **{"model.decoder.layers.0.extra_norm.weight": torch.zeros(2), "model.mask_head.weight": torch.zeros(1)}
    )
    with pytest.raises(UnknownKeysError) as caught:
        hf_to_official(extra, case["config"])
    assert caught.value.keys == ["model.decoder.layers.0.extra_norm.weight", "model.mask_head.weight"]
    broken = dict(hf)
    broken.pop("model.encoder.layers.0.final_layer_norm.bias")
    official = hf_to_official(broken, case["config"])
    args = load_args(case["config"])
    with pytest.raises(CheckpointKeyError, match="transformer.encoder.layers.0.norm2.bias"):
        deformable_skeleton(official, args["args"], 64, 96, backbone_spec=args["spec"])
    partial = dict(hf)
    partial.pop("model.decoder.layers.1.self_attn.k_proj.bias")
    with pytest.raises(HFCheckpointError, match="lacks the k_proj"):
        hf_to_official(partial, case["config"])


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(backbone="resnet50d"), "timm backbone 'resnet50d'"),
        (dict(backbone="swin_tiny_patch4_window7_224"), "timm backbone"),
        (dict(dilation=True), "dilation=True"),
        (dict(position_embedding_type="learned"), "position_embedding_type 'learned'"),
        (dict(activation_function="gelu"), "activation_function 'gelu'"),
        (dict(decoder_attention_heads=8), "attention heads"),
        (dict(backbone_kwargs={"out_indices": [1, 2, 3]}), "backbone_kwargs"),
        (dict(model_type="detr"), "model_type 'detr'"),
    ],
)
def test_unsupported_configs_say_what_is_supported(change, message):
    config = dict(CASES["cases"]["timm-resnet18"]["config"], **change)
    with pytest.raises(HFCheckpointError, match=message) as caught:
        load_args(config)
    assert "supported: DeformableDetrForObjectDetection" in str(caught.value)


def test_unsupported_hf_backbones():
    config = dict(CASES["cases"]["plain"]["config"])
    swin = dict(config, backbone_config={"model_type": "swin"})
    with pytest.raises(HFCheckpointError, match="backbone 'swin'"):
        load_args(swin)
    bad_levels = dict(
        config, backbone_config=dict(config["backbone_config"], out_features=["stage1", "stage2", "stage3"])
    )
    with pytest.raises(HFCheckpointError, match="out_features"):
        load_args(bad_levels)


# --- parity with the Hugging Face code ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES["cases"]))
def test_reference_model_equals_hf_outputs(checkpoints, name):
    case = CASES["cases"][name]
    checkpoint = load_huggingface_checkpoint(checkpoints[name])
    with torch.no_grad():
        out = reference_model(checkpoint)(hf_fixture.case_image(case))
    logits = np.abs(out["pred_logits"].numpy() - OUTPUTS[f"{name}__logits"]).max()
    boxes = np.abs(out["pred_boxes"].numpy() - OUTPUTS[f"{name}__pred_boxes"]).max()
    print(f"{name}: max |logits| {logits:.2e}, max |boxes| {boxes:.2e}")
    assert logits <= TOLERANCE["logits"] and boxes <= TOLERANCE["boxes"]
    # post_process_object_detection on our outputs equals HF's on its own
    post = post_process_object_detection(out["pred_logits"], out["pred_boxes"], [tuple(CASES["target_size"])])[0]
    assert np.abs(post["scores"].numpy() - OUTPUTS[f"{name}__scores"]).max() <= 1e-6
    assert (post["labels"].numpy() == OUTPUTS[f"{name}__labels"]).all()
    assert np.abs(post["boxes"].numpy() - OUTPUTS[f"{name}__boxes"]).max() <= 1e-5 * max(CASES["target_size"])


def test_post_processing_on_recorded_hf_outputs():
    """Our post-processing of HF's recorded raw outputs gives HF's recorded detections (top 100, corners x size).
    Scores within artifact_compare.RTOL, not bit for bit: torch's sigmoid differs by an ULP between CPUs (its
    non-AVX2 kernel gives 6e-8 on these cases); adjacent recorded scores are >= 8.9e-6 apart, so the labels' order
    holds exactly, and a wrong activation or logit moves scores by far more than 1e-6."""
    for name in CASES["cases"]:
        post = post_process_object_detection(
            torch.from_numpy(OUTPUTS[f"{name}__logits"]),
            torch.from_numpy(OUTPUTS[f"{name}__pred_boxes"]),
            [tuple(CASES["target_size"])],
        )[0]
        assert len(post["scores"]) == 100
        assert float_differences(post["scores"].numpy(), OUTPUTS[f"{name}__scores"], name) == []
        assert np.array_equal(post["labels"].numpy(), OUTPUTS[f"{name}__labels"])
        assert np.allclose(post["boxes"].numpy(), OUTPUTS[f"{name}__boxes"], rtol=0, atol=1e-4)


# --- export -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,entry", [("two-stage", "model.safetensors"), ("box-refine", "pytorch_model.bin")])
def test_export_of_hf_checkpoint(checkpoints, tmp_path, name, entry):
    case = CASES["cases"][name]
    lines = []
    manifest = export_checkpoint(
        checkpoints[name] / entry, tmp_path / "pkg", height=64, width=96, single_graph=False, progress=lines.append
    )
    verify_package_files(tmp_path / "pkg")
    assert lines[0].startswith("read Hugging Face checkpoint")
    assert manifest["model"]["source"]["format"] == "huggingface"
    assert manifest["model"]["source"]["checkpoint"] == entry
    assert manifest["model"]["variant"] == name
    assert manifest["output"]["classNames"] == hf_fixture.LABELS
    assert manifest["input"]["mean"] == hf_fixture.PREPROCESSOR["image_mean"]
    assert manifest["input"]["pixelScale"] == pytest.approx(255)
    assert manifest["architecture"]["backbone"].startswith("hf-resnet")
    # the graphs' PyTorch plan (what the ONNX files are traced from) equals the Hugging Face outputs
    checkpoint = load_huggingface_checkpoint(checkpoints[name])
    model, dims = deformable_skeleton(
        checkpoint.state_dict, checkpoint.args, 64, 96, backbone_spec=checkpoint.backbone_spec
    )
    with torch.no_grad():
        tensors = run_plan(deformable_plan(model, dims, deformable_features), {"image": hf_fixture.case_image(case)})
    logits = np.abs(tensors["pred_logits"].numpy() - OUTPUTS[f"{name}__logits"]).max()
    boxes = np.abs(tensors["pred_boxes"].numpy() - OUTPUTS[f"{name}__pred_boxes"]).max()
    print(f"{name} plan: max |logits| {logits:.2e}, max |boxes| {boxes:.2e}")
    assert logits <= TOLERANCE["logits"] and boxes <= TOLERANCE["boxes"]


def test_missing_weights_are_named_as_the_file_names_them(checkpoints, tmp_path):
    from webdetr_tools.export.huggingface import HFKeyMismatchError

    source = checkpoints["two-stage"]
    state = read_safetensors(source / "model.safetensors")
    state.pop("model.decoder.layers.1.self_attn.q_proj.weight")
    state.pop("model.decoder.layers.1.self_attn.k_proj.weight")
    state.pop("model.decoder.layers.1.self_attn.v_proj.weight")
    state.pop("model.encoder.layers.0.self_attn_layer_norm.bias")
    for name in ("config.json", "preprocessor_config.json"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    write_safetensors(tmp_path / "model.safetensors", state)
    with pytest.raises(HFKeyMismatchError) as caught:
        export_checkpoint(tmp_path, tmp_path / "pkg", height=64, width=96, single_graph=False, progress=lambda _: None)
    assert caught.value.missing == [
        "model.decoder.layers.1.self_attn.k_proj.weight",
        "model.decoder.layers.1.self_attn.q_proj.weight",
        "model.decoder.layers.1.self_attn.v_proj.weight",
        "model.encoder.layers.0.self_attn_layer_norm.bias",
    ]
    assert "model.encoder.layers.0.self_attn_layer_norm.bias" in str(caught.value)


def test_class_names_from_id2label():
    from webdetr_tools.export.huggingface import class_names

    assert class_names({"id2label": {"1": "cat", "0": "N/A", "3": "dog"}}, 4) == ["N/A", "cat", "class_2", "dog"]
    assert class_names({}, 2) == ["class_0", "class_1"]
    with pytest.raises(HFCheckpointError, match=r"names ids \[5\]"):
        class_names({"id2label": {"0": "a", "5": "b"}}, 3)


def test_newer_config_backbone_kwargs_are_accepted():
    """transformers >= 4.38 writes backbone_kwargs {in_chans, out_indices} into config.json."""
    config = dict(CASES["cases"]["timm-resnet18"]["config"], backbone_kwargs={"in_chans": 3, "out_indices": [2, 3, 4]})
    assert load_args(config)["args"]["num_feature_levels"] == 4


@pytest.mark.parametrize("name", ["plain", "two-stage", "single-scale"])
def test_resnet_layout_read_from_weights_when_config_names_it(checkpoints, tmp_path, name):
    """use_timm_backbone false, backbone "microsoft/resnet-50"-style (no backbone_config): layout from the weights."""
    source = checkpoints[name]
    config = dict(
        json.loads((source / "config.json").read_text()), backbone="microsoft/resnet-50", backbone_config=None
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((source / "model.safetensors").read_bytes())
    checkpoint, expected = load_huggingface_checkpoint(tmp_path), load_huggingface_checkpoint(source)
    assert checkpoint.backbone_spec == expected.backbone_spec
    assert checkpoint.backbone == expected.backbone


def test_reference_forward_cli_takes_hf_checkpoints(checkpoints, tmp_path, repo_dir):
    import reference_forward as cli  # tools/reference_forward.py
    from PIL import Image

    Image.fromarray(np.random.RandomState(0).randint(0, 255, (64, 96, 3), dtype=np.uint8)).save(tmp_path / "img.png")
    cli.main(
        [
            "--checkpoint",
            str(checkpoints["single-scale"] / "model.safetensors"),
            "--image",
            str(tmp_path / "img.png"),
            "--out-dir",
            str(tmp_path / "out"),
        ]
    )
    assert np.load(tmp_path / "out" / "pred_logits.npy").shape == (1, 20, 7)


def test_official_export_records_its_format(tmp_path):
    from test_export_deformable import tiny_checkpoint

    tiny_checkpoint(tmp_path / "tiny.pth", 1)
    manifest = export_checkpoint(
        tmp_path / "tiny.pth", tmp_path / "pkg", height=64, width=96, single_graph=False, progress=lambda _: None
    )
    assert manifest["model"]["source"]["format"] == "official"


# --- full-size official checkpoints renamed as the hub's were -------------------------------------------------------


def published_rename(key):
    """The renaming transformers' convert_deformable_detr_to_pytorch.py applies to official keys (as its rename_key
    and read_in_q_k_v describe it; restated here): the hub's SenseTime/deformable-detr* checkpoints carry these names.
    Returns a list of names (the decoder in_proj splits into q/k/v)."""
    k = key.replace("backbone.0.body", "backbone.conv_encoder.model").replace("transformer.", "")
    if "norm1" in k:
        k = k.replace("norm1", "self_attn_layer_norm" if "encoder" in k else "encoder_attn_layer_norm")
    if "norm2" in k:
        k = k.replace("norm2", "final_layer_norm" if "encoder" in k else "self_attn_layer_norm")
    k = k.replace("norm3", "final_layer_norm").replace("linear1", "fc1").replace("linear2", "fc2")
    k = k.replace("query_embed", "query_position_embeddings").replace("cross_attn", "encoder_attn")
    if ".self_attn.in_proj_" in k:
        param = k.rsplit("_", 1)[1]
        k = [k.replace("in_proj_" + param, f"{p}_proj.{param}") for p in "qkv"]
    names = k if isinstance(k, list) else [k]
    return [n if n.startswith(("class_embed", "bbox_embed")) else "model." + n for n in names]


def hub_config(args):
    return {
        "architectures": ["DeformableDetrForObjectDetection"],
        "model_type": "deformable_detr",
        "use_timm_backbone": True,
        "backbone": args["backbone"],
        "num_feature_levels": args["num_feature_levels"],
        "with_box_refine": args["with_box_refine"],
        "two_stage": args["two_stage"],
        "dilation": args["dilation"],
        "num_queries": args["num_queries"],
        "two_stage_num_proposals": args["num_queries"],
        "id2label": {str(i): f"c{i}" for i in range(91)},
    }


def to_hub(official):
    hub = {}
    for key, value in official.items():
        names = published_rename(key)
        for i, name in enumerate(names):
            hub[name] = value.chunk(3, 0)[i] if len(names) == 3 else value
    return hub


@pytest.mark.parametrize("variant", ["deformable_plain", "deformable_refine", "deformable_two_stage"])
def test_published_renaming_of_official_keys_maps_back(shared_dir, variant):
    reference = shared_dir / "reference" / variant
    shapes = json.loads((reference / "state_dict_shapes.json").read_text())
    args = json.loads((reference / "args.json").read_text())
    zero = torch.zeros(1)
    official = {k: zero.expand(*v) if v else zero[0] for k, v in shapes.items()}
    back = hf_to_official(to_hub(official), hub_config(args))
    assert set(back) == set(shapes)
    assert all(list(back[k].shape) == shapes[k] for k in shapes)


@pytest.mark.skipif(
    os.environ.get("WEBDETR_HF_FULL_SIZE") != "1",
    reason="full-size R50 check (10-25 s per variant): WEBDETR_HF_FULL_SIZE=1",
)
@pytest.mark.parametrize("variant", ["deformable_plain", "deformable_refine", "deformable_two_stage"])
def test_full_size_hub_style_checkpoint_equals_official_outputs(shared_dir, tmp_path, variant):
    """Official synthetic weights (shared/reference), renamed as the hub's, saved as model.safetensors with a hub
    config.json: our reference model on them gives the official code's outputs (R50, 384x512). Opt-in."""
    from PIL import Image

    from webdetr_tools.models.inputs import to_normalized_tensor
    from webdetr_tools.weights import synthetic_state_dict

    reference = shared_dir / "reference" / variant
    args = json.loads((reference / "args.json").read_text())
    official = synthetic_state_dict(json.loads((reference / "state_dict_shapes.json").read_text()), seed=1)
    (tmp_path / "config.json").write_text(json.dumps(hub_config(args)))
    write_safetensors(tmp_path / "model.safetensors", to_hub(official))
    del official
    checkpoint = load_huggingface_checkpoint(tmp_path)
    image = to_normalized_tensor(Image.open(shared_dir / "reference" / "image.png").convert("RGB"))
    with torch.no_grad():
        out = reference_model(checkpoint)(image)
    logits = np.abs(out["pred_logits"].numpy() - np.load(reference / "pred_logits.npy")).max()
    boxes = np.abs(out["pred_boxes"].numpy() - np.load(reference / "pred_boxes.npy")).max()
    print(f"{variant} full size via HF checkpoint: max |logits| {logits:.2e}, max |boxes| {boxes:.2e}")
    assert logits <= TOLERANCE["logits"] and boxes <= TOLERANCE["boxes"]
