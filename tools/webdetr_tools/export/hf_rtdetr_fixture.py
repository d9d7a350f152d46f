"""Small synthetic Hugging Face RT-DETR checkpoints and the recorded outputs of the Hugging Face code on them.

The fixture (tools/tests/fixtures/hf_rtdetr/cases.json + outputs.npz) was made once by tools/make_hf_rtdetr_fixture.py:
for every case in CASES it builds the copied transformers RTDetrForObjectDetection / RTDetrV2ForObjectDetection from
the case's config.json (shims.config_from_json: transformers' defaults, then the file), draws synthetic weights for
the model's own state-dict keys (webdetr_tools.weights.synthetic_state_dict, seed = the case's weight_seed; the v2
n_points_scale buffers keep their constant 1 / P, BatchNorm counters their zeros, the top-level heads are tied to
model.decoder's as loading ties them), runs it in eval mode on a seeded image (torch.rand, RGB / 255 as the image
processor gives it) and records `logits`, `pred_boxes` and RTDetrImageProcessor.post_process_object_detection
(threshold 0, target_sizes=[TARGET_SIZE]). cases.json keeps each HF key with its shape in the model's order, so the
tests rebuild the very same checkpoint offline (write_case) without the transformers code.

The Hugging Face code was not installed (no transformers package here): its inference path was copied from
huggingface/transformers (blobs in TRANSFORMERS, read from a stored snapshot) into .cache/hf_rtdetr/hf_modeling.py
outside the repository's tracked files, importing hf_rtdetr_shims for the library plumbing (the copy is never
committed). Square inputs: transformers changed its 2D sin-cos position embedding between releases (the blob used
for v1 flattens row-major with [sin h, cos h, sin w, cos w]; older releases and the official code use the w-major
order), and the two agree on square feature maps only, which is what RT-DETR's 640 x 640 gives.
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
    "src/transformers/models/rt_detr/modeling_rt_detr.py": "000c33fdfde12e1ffafbfcdb3c926df5727a00b6",
    "src/transformers/models/rt_detr/modeling_rt_detr_resnet.py": "0166003b4b47ff1c08ed0cd1f88494b4af345c25",
    "src/transformers/models/rt_detr_v2/modeling_rt_detr_v2.py (v2 deformable attention)": (
        "00e2ead2268a9edbbc714b716e1c9f8291889abd"
    ),
    "src/transformers/models/rt_detr_v2/modular_rt_detr_v2.py (v2 class composition)": "read via the code index",
    "src/transformers/models/rt_detr/image_processing_rt_detr.py (post_process_object_detection)": (
        "read via the code index"
    ),
    "src/transformers/models/rt_detr/configuration_rt_detr.py (defaults)": "01fa9f328637360b5cddb3bedf101d5971479d80",
    "key renaming (tests' reference for the importer)": [
        "src/transformers/models/rt_detr/convert_rt_detr_original_pytorch_checkpoint_to_hf.py 09cb93d8",
        "src/transformers/models/rt_detr_v2/convert_rt_detr_v2_weights_to_hf.py 03bb2cc3",
    ],
}

FIXTURE_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "hf_rtdetr"
LABELS = ["person", "bicycle", "car", "dog", "kite"]
IMAGE_SHAPE = [1, 3, 64, 64]
TARGET_SIZE = [480, 640]  # (height, width) for post_process_object_detection


def _backbone(block="basic", depths=(2, 2, 2, 2)):
    widths = [64, 128, 256, 512] if block == "basic" else [256, 512, 1024, 2048]
    return {
        "model_type": "rt_detr_resnet",
        "num_channels": 3,
        "embedding_size": 64,
        "hidden_sizes": widths,
        "depths": list(depths),
        "layer_type": block,
        "hidden_act": "relu",
        "downsample_in_first_stage": False,
        "downsample_in_bottleneck": False,
        "out_features": ["stage2", "stage3", "stage4"],
        "out_indices": [2, 3, 4],
        "stage_names": ["stem", "stage1", "stage2", "stage3", "stage4"],
    }


def _config(version="v1", **changes):
    v2 = version == "v2"
    config = {
        "architectures": ["RTDetrV2ForObjectDetection" if v2 else "RTDetrForObjectDetection"],
        "model_type": "rt_detr_v2" if v2 else "rt_detr",
        "use_timm_backbone": False,
        "backbone": None,
        "use_pretrained_backbone": False,
        "backbone_config": _backbone(),
        "freeze_backbone_batch_norms": True,
        "d_model": 64,
        "encoder_hidden_dim": 64,
        "encoder_in_channels": [128, 256, 512],
        "feat_strides": [8, 16, 32],
        "encoder_layers": 1,
        "encoder_ffn_dim": 128,
        "encoder_attention_heads": 4,
        "encode_proj_layers": [2],
        "positional_encoding_temperature": 10000,
        "encoder_activation_function": "gelu",
        "activation_function": "silu",
        "eval_size": None,
        "normalize_before": False,
        "hidden_expansion": 0.5,
        "num_queries": 30,
        "decoder_in_channels": [64, 64, 64],
        "decoder_ffn_dim": 128,
        "num_feature_levels": 3,
        "decoder_n_points": 4,
        "decoder_layers": 2,
        "decoder_attention_heads": 4,
        "decoder_activation_function": "relu",
        "num_denoising": 100,
        "learn_initial_query": False,
        "anchor_image_size": None,
        "layer_norm_eps": 1e-5,
        "batch_norm_eps": 1e-5,
        "disable_custom_kernels": True,
        "id2label": {str(i): name for i, name in enumerate(LABELS)},
        "label2id": {name: i for i, name in enumerate(LABELS)},
    }
    if v2:
        config.update(decoder_n_levels=3, decoder_offset_scale=0.5, decoder_method="default")
    config.update(changes)
    return config


PREPROCESSOR = {
    "image_processor_type": "RTDetrImageProcessor",
    "do_resize": True,
    "size": {"height": 64, "width": 64},
    "resample": 2,
    "do_rescale": True,
    "rescale_factor": 0.00392156862745098,
    "do_normalize": False,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    "do_pad": False,
    "format": "coco_detection",
}

# save: "dedup" leaves out the top-level class_embed / bbox_embed that alias model.decoder's (what safetensors keeps of
# tied weights); "all" writes every key of model.state_dict() (as torch.save of it, pytorch_model.bin).
CASES = {
    "v1": dict(config=_config("v1"), weights="safetensors", save="all", weight_seed=31, image_seed=41),
    "v1-anchors": dict(
        config=_config("v1", anchor_image_size=[64, 64], decoder_n_points=2),
        weights="bin",
        save="all",
        weight_seed=32,
        image_seed=42,
    ),
    "v2": dict(
        config=_config("v2", decoder_n_points=3), weights="safetensors", save="dedup", weight_seed=33, image_seed=43
    ),
    "v2-discrete": dict(
        config=_config("v2", decoder_n_points=2, decoder_method="discrete"),
        weights="bin",
        save="all",
        weight_seed=34,
        image_seed=44,
    ),
    "v2-r50": dict(
        config=_config(
            "v2",
            backbone_config=_backbone("bottleneck", (3, 4, 6, 3)),
            encoder_in_channels=[512, 1024, 2048],
            hidden_expansion=1.0,
        ),
        weights="safetensors",
        save="dedup",
        weight_seed=35,
        image_seed=45,
    ),
}


def tie(state):
    """Values as a loaded model has them: the top-level heads (v2) alias model.decoder's."""
    state = dict(state)
    for key in state:
        if key.startswith("class_embed.") or key.startswith("bbox_embed."):
            state[key] = state["model.decoder." + key]
    return state


def saved_keys(case, keys):
    if case["save"] == "all":
        return list(keys)
    return [k for k in keys if not (k.startswith("class_embed.") or k.startswith("bbox_embed."))]


def case_state_dict(case, shapes):
    """The loaded model's state (all keys, tied) from the recorded [[key, shape], ...]: synthetic weights, the
    constant buffers (n_points_scale = 1 / P, num_batches_tracked = 0) as the model builds them."""
    config = case["config"]
    drawn = {k: s for k, s in shapes if not k.endswith("num_batches_tracked") and not k.endswith("n_points_scale")}
    state = synthetic_state_dict(drawn, seed=case["weight_seed"])
    points = config["decoder_n_points"]
    for key, shape in shapes:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0, dtype=torch.int64)
        elif key.endswith("n_points_scale"):
            state[key] = torch.full(shape, 1 / points, dtype=torch.float32)
    return tie({k: state[k] for k, _ in shapes})


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
    """The seeded input: RGB / 255 in [0, 1], as RTDetrImageProcessor gives it (rescale only, no normalisation)."""
    return torch.rand(*IMAGE_SHAPE, generator=torch.Generator().manual_seed(case["image_seed"]))


def load_fixture(directory=FIXTURE_DIR):
    cases = json.loads((Path(directory) / "cases.json").read_text())
    with np.load(Path(directory) / "outputs.npz") as data:
        outputs = {k: data[k] for k in data.files}
    return cases, outputs


# --- generation (needs the copied Hugging Face code) ---------------------------------------------------------------


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
        config = shims.config_from_json(case["config"])
        cls = (
            hf_modeling.RTDetrV2ForObjectDetection
            if case["config"]["model_type"] == "rt_detr_v2"
            else hf_modeling.RTDetrForObjectDetection
        )
        model = cls(config).eval()
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
        "weights": "model.safetensors" if case["weights"] == "safetensors" else "pytorch_model.bin",
        "image": str(out_dir / "image.f32"),
        "image_shape": IMAGE_SHAPE,
        "target_size": cases["target_size"],
    }
    np.ascontiguousarray(case_image(case).numpy(), dtype=np.float32).tofile(paths["image"])
    for key in ("logits", "pred_boxes", "scores", "labels", "boxes"):
        paths[key] = str(out_dir / f"{key}.npy")
        np.save(paths[key], outputs[f"{name}__{key}"].astype(np.float32))
    return paths
