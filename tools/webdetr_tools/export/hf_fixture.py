"""Tiny synthetic Hugging Face Deformable-DETR checkpoints and the recorded outputs of the Hugging Face code on them.

The fixture (tools/tests/fixtures/hf_deformable/cases.json + outputs.npz) was made once by tools/make_hf_fixture.py:
for every case in CASES it builds transformers' DeformableDetrForObjectDetection from the case's config.json, draws
synthetic weights for the model's own state-dict keys (webdetr_tools.weights.synthetic_state_dict, seed = the case's
weight_seed; shared heads and aliases tied as loading a real checkpoint ties them), runs it in eval mode on a seeded
normal image (torch.manual_seed(image_seed), [1, 3, H, W], pixel_mask all ones) and records `logits`, `pred_boxes`
and post_process_object_detection(threshold=0, target_sizes=[target_size]) (top 100). cases.json keeps each HF
key with its shape in the model's order, so the tests rebuild the very same checkpoint offline (write_case) without
the transformers code.

The Hugging Face code was not installed (no transformers/timm package here): its inference path was copied from
huggingface/transformers (git blobs below, read from a stored snapshot) into a scratch directory outside the
repository, as hf_modeling.py, importing the stand-ins of hf_shims.py for the library plumbing (the copy must not be
committed). TRANSFORMERS names the files and commits.
"""
import json
import re
from pathlib import Path

import numpy as np
import torch

from ..weights import synthetic_state_dict
from .huggingface import write_safetensors

TRANSFORMERS = {
    "repository": "huggingface/transformers",
    "src/transformers/models/deformable_detr/modeling_deformable_detr.py": "004edfe2dc0fdbc94068d7977605aa6798de787e",
    "src/transformers/models/resnet/modeling_resnet.py": "00cbbe53b2f70d551ce82a1f6b43a2e4a4debe42",
    "src/transformers/models/deformable_detr/image_processing_deformable_detr.py (post_process_object_detection)": "04ae75715f2cca2d87bbaf07c1d8e9fb2ab20bfd",  # noqa: E501
    "src/transformers/models/deformable_detr/configuration_deformable_detr.py (defaults)": "054d2b01ea62d1253dc0505c2d6b14ecfc95905d",  # noqa: E501
}

FIXTURE_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "hf_deformable"
LABELS = ["N/A", "cat", "dog", "remote", "couch", "kite", "bench"]


def _resnet(block, widths, depths, stages):
    return {
        "model_type": "resnet",
        "num_channels": 3,
        "embedding_size": 16,
        "hidden_sizes": widths,
        "depths": depths,
        "layer_type": block,
        "hidden_act": "relu",
        "downsample_in_first_stage": False,
        "downsample_in_bottleneck": False,
        "out_features": stages,
        "out_indices": [int(s[-1]) for s in stages],
        "stage_names": ["stem", "stage1", "stage2", "stage3", "stage4"],
    }


def _config(**changes):
    config = {
        "architectures": ["DeformableDetrForObjectDetection"],
        "model_type": "deformable_detr",
        "use_timm_backbone": False,
        "backbone": None,
        "use_pretrained_backbone": False,
        "backbone_config": _resnet("bottleneck", [16, 32, 64, 128], [1, 1, 1, 1], ["stage2", "stage3", "stage4"]),
        "num_channels": 3,
        "d_model": 64,
        "encoder_layers": 1,
        "decoder_layers": 2,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 96,
        "decoder_ffn_dim": 96,
        "encoder_n_points": 2,
        "decoder_n_points": 2,
        "num_feature_levels": 4,
        "num_queries": 20,
        "two_stage": False,
        "two_stage_num_proposals": 20,
        "with_box_refine": False,
        "activation_function": "relu",
        "position_embedding_type": "sine",
        "dilation": False,
        "dropout": 0.1,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "disable_custom_kernels": True,
        "backbone_kwargs": None,
        "id2label": {str(i): name for i, name in enumerate(LABELS)},
        "label2id": {name: i for i, name in enumerate(LABELS) if name != "N/A"},
    }
    config.update(changes)
    return config


PREPROCESSOR = {
    "image_processor_type": "DeformableDetrImageProcessor",
    "do_resize": True,
    "size": {"shortest_edge": 800, "longest_edge": 1333},
    "resample": 2,
    "do_rescale": True,
    "rescale_factor": 0.00392156862745098,
    "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    "do_pad": True,
    "format": "coco_detection",
}

# save: "dedup" writes what HF's safetensors keep of tied modules (index 0 of shared heads, no model.decoder aliases);
# "all" writes every key of model.state_dict() (as torch.save of it, HF's pytorch_model.bin).
CASES = {
    "plain": dict(config=_config(), weights="safetensors", save="dedup", weight_seed=11, image_seed=21),
    "box-refine": dict(
        config=_config(
            with_box_refine=True,
            backbone_config=_resnet("bottleneck", [16, 32, 64, 128], [1, 2, 1, 1], ["stage2", "stage3", "stage4"]),
        ),
        weights="bin",
        save="all",
        weight_seed=12,
        image_seed=22,
    ),
    "two-stage": dict(
        config=_config(
            with_box_refine=True,
            two_stage=True,
            backbone_config=_resnet("basic", [16, 32, 64, 128], [1, 1, 1, 1], ["stage2", "stage3", "stage4"]),
        ),
        weights="safetensors",
        save="dedup",
        weight_seed=13,
        image_seed=23,
    ),
    "single-scale": dict(
        config=_config(
            num_feature_levels=1, backbone_config=_resnet("bottleneck", [16, 32, 64, 128], [1, 1, 1, 1], ["stage4"])
        ),
        weights="safetensors",
        save="all",
        weight_seed=14,
        image_seed=24,
    ),
    "timm-resnet18": dict(
        config=_config(use_timm_backbone=True, backbone="resnet18", backbone_config=None),
        weights="safetensors",
        save="dedup",
        weight_seed=15,
        image_seed=25,
    ),
}
IMAGE_SHAPE = [1, 3, 64, 96]
TARGET_SIZE = [480, 720]  # (height, width) for post_process_object_detection


def tie(config, state):
    """Values as a loaded model has them: model.decoder.{bbox,class}_embed alias the heads; plain models' heads are
    one module per layer that HF ties to index 0 (the official code shares one module)."""
    state = dict(state)
    for key in state:
        if key.startswith("model.decoder.bbox_embed.") or key.startswith("model.decoder.class_embed."):
            state[key] = state[key[len("model.decoder.") :]]
    if not config["with_box_refine"]:
        for key in state:
            parts = key.split(".")
            if parts[0] in ("class_embed", "bbox_embed") and parts[1] != "0":
                state[key] = state[".".join([parts[0], "0"] + parts[2:])]
    return state


def saved_keys(case, keys):
    if case["save"] == "all":
        return list(keys)
    refine = case["config"]["with_box_refine"]
    return [
        k
        for k in keys
        if not k.startswith("model.decoder.bbox_embed.")
        and not k.startswith("model.decoder.class_embed.")
        and not (not refine and k.split(".")[0] in ("class_embed", "bbox_embed") and k.split(".")[1] != "0")
    ]


def case_state_dict(case, shapes):
    """The loaded model's state (all keys, tied) from the recorded [[key, shape], ...]."""
    return tie(case["config"], synthetic_state_dict({k: s for k, s in shapes}, seed=case["weight_seed"]))


def write_case(case, shapes, out_dir):
    """Write the case's Hugging Face checkpoint (config.json, preprocessor_config.json, weights) to out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = case_state_dict(case, shapes)
    keep = {k: state[k] for k in saved_keys(case, [k for k, _ in shapes])}
    (out_dir / "config.json").write_text(json.dumps(case["config"], indent=2))
    (out_dir / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2))
    if case["weights"] == "safetensors":
        write_safetensors(out_dir / "model.safetensors", keep, metadata={"format": "pt"})
    else:
        torch.save(keep, str(out_dir / "pytorch_model.bin"))
    return out_dir


def case_image(case):
    torch.manual_seed(case["image_seed"])
    return torch.randn(*IMAGE_SHAPE)


def load_fixture(directory=FIXTURE_DIR):
    cases = json.loads((Path(directory) / "cases.json").read_text())
    with np.load(Path(directory) / "outputs.npz") as data:
        outputs = {k: data[k] for k in data.files}
    return cases, outputs


# --- generation (needs the copied Hugging Face code) ---------------------------------------------------------------


def _hf_config(shims, config):
    values = dict(config)
    values["num_labels"] = len(config["id2label"])
    if config["backbone_config"] is not None:
        values["backbone_config"] = shims.Config(**config["backbone_config"])
    return shims.Config(**values)


def _compact_json(value):
    """indent=1 JSON with number lists and [key, shape] pairs on one line."""
    text = json.dumps(value, indent=1)
    text = re.sub(
        r"\[\s*(-?[\d.e-]+(?:,\s*-?[\d.e-]+)*)\s*\]",
        lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
        text,
    )
    return re.sub(r"\[\s*(\"[^\"]+\"),\s*(\[[^\]\n]*\])\s*\]", r"[\1, \2]", text)


def generate(hf_modeling, shims, out_dir=FIXTURE_DIR, names=None):
    """Run the Hugging Face modules (imported by the caller) on every case; write cases.json and outputs.npz."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "transformers": TRANSFORMERS,
        "image_shape": IMAGE_SHAPE,
        "target_size": TARGET_SIZE,
        "torch": torch.__version__,
        "cases": {},
    }
    arrays = {}
    for name, case in CASES.items():
        if names and name not in names:
            continue
        model = hf_modeling.DeformableDetrForObjectDetection(_hf_config(shims, case["config"])).eval()
        shapes = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        model.load_state_dict(case_state_dict(case, shapes), strict=True)
        with torch.no_grad():
            out = model(case_image(case))
            post = hf_modeling.post_process_object_detection(out, threshold=0.0, target_sizes=[tuple(TARGET_SIZE)])[0]
        record["cases"][name] = dict(case, shapes=shapes)
        arrays.update(
            {
                f"{name}__logits": out.logits.numpy(),
                f"{name}__pred_boxes": out.pred_boxes.numpy(),
                f"{name}__scores": post["scores"].numpy(),
                f"{name}__labels": post["labels"].numpy(),
                f"{name}__boxes": post["boxes"].numpy(),
            }
        )
    (out_dir / "cases.json").write_text(_compact_json(record) + "\n")
    np.savez_compressed(out_dir / "outputs.npz", **arrays)
    return record


def write_case_files(name, out_dir, directory=FIXTURE_DIR):
    """For the Node tests: out_dir/checkpoint (the case's HF checkpoint), image.f32 (its input, raw float32 NCHW) and
    the recorded HF outputs as float32 .npy (logits, pred_boxes, scores, labels, boxes); returns the paths as a dict."""
    cases, outputs = load_fixture(directory)
    case = cases["cases"][name]
    out_dir = Path(out_dir)
    paths = {
        "checkpoint": str(write_case(case, case["shapes"], out_dir / "checkpoint")),
        "image": str(out_dir / "image.f32"),
        "image_shape": IMAGE_SHAPE,
        "target_size": cases["target_size"],
    }
    np.ascontiguousarray(case_image(case).numpy(), dtype=np.float32).tofile(paths["image"])
    for key in ("logits", "pred_boxes", "scores", "labels", "boxes"):
        paths[key] = str(out_dir / f"{key}.npy")
        np.save(paths[key], outputs[f"{name}__{key}"].astype(np.float32))
    return paths
