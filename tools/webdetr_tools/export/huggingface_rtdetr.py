"""Hugging Face RT-DETR checkpoints (RTDetrForObjectDetection, model_type rt_detr = v1; RTDetrV2ForObjectDetection,
model_type rt_detr_v2 = v2) -> our official-layout RT-DETR (webdetr_tools.rtdetr) -> the same package as an official
.pth (rtdetr_export.write_rtdetr_package).

Keys: the inverse of transformers' conversion scripts (convert_rt_detr_original_pytorch_checkpoint_to_hf.py,
rt_detr_v2/convert_rt_detr_v2_weights_to_hf.py), which rename the official keys and split the official
nn.MultiheadAttention in_proj_weight / in_proj_bias into q_proj / k_proj / v_proj (rows 0:C, C:2C, 2C:3C); here they
are concatenated back. The class / box heads are read from model.decoder.{class,bbox}_embed.{i} or their tied
top-level copies {class,bbox}_embed.{i}. Derived buffers (anchors, valid_mask, num_batches_tracked) are ignored;
any other key nobody maps is an error.

config.json gives what the weights cannot say (heads, points per level, sampling method, queries, activations);
the weights give the rest (backbone depth, widths, layers: rtdetr.config.detect_config). Settings our model does
not implement (pre-norm, another decoder activation or offset scale, a timm backbone, a stride in the bottleneck's
1x1) are errors, not approximations. preprocessor_config.json gives the input size (RT-DETR: 640 x 640, stretched)
and the pixel transform (RT-DETR: rescale 1/255, do_normalize false).
"""
import json
import re
import time
from pathlib import Path

import torch

from ..rtdetr.config import detect_config
from ..rtdetr.model import RTDETR
from .huggingface import HFCheckpointError, class_names, preprocess_settings, read_weights, resolve_files
from .manifest import file_digest
from .rtdetr_export import rtdetr_description, write_rtdetr_package

MODEL_TYPES = {"rt_detr": "v1", "rt_detr_v2": "v2"}
_BN = r"(weight|bias|running_mean|running_var)"
_IGNORED = re.compile(r"(^model\.(anchors|valid_mask)$|num_batches_tracked$)")


def read_config(path):
    files = resolve_files(path)
    config = json.loads(files.config.read_text())
    preprocessor = json.loads(files.preprocessor.read_text()) if files.preprocessor else None
    return files, config, preprocessor


def is_huggingface_rtdetr(path):
    """A Hugging Face checkpoint (directory or file) whose config.json says model_type rt_detr / rt_detr_v2."""
    try:
        _, config, _ = read_config(path)
    except (HFCheckpointError, OSError, ValueError):
        return False
    return config.get("model_type") in MODEL_TYPES


# --- keys -----------------------------------------------------------------------------------------------------------


def _backbone_key(rest):
    m = re.fullmatch(rf"embedder\.embedder\.(\d+)\.(convolution\.weight|normalization\.{_BN})", rest)
    if m:
        part = "conv.weight" if m.group(2) == "convolution.weight" else f"norm.{m.group(3)}"
        return f"backbone.conv1.conv1_{int(m.group(1)) + 1}.{part}"
    m = re.fullmatch(r"encoder\.stages\.(\d+)\.layers\.(\d+)\.(.+)", rest)
    if not m:
        return None
    stage, layer, tail = m.groups()
    block = f"backbone.res_layers.{stage}.blocks.{layer}"
    m = re.fullmatch(rf"(shortcut(?:\.1)?|layer\.(\d))\.(convolution\.weight|normalization\.{_BN})", tail)
    if not m:
        return None
    part = "conv.weight" if m.group(3) == "convolution.weight" else f"norm.{m.group(4)}"
    if m.group(1) == "shortcut":
        return f"{block}.short.{part}"
    if m.group(1) == "shortcut.1":
        return f"{block}.short.conv.{part}"
    return f"{block}.branch2{'abc'[int(m.group(2))]}.{part}"


_ENC_LAYER = {"self_attn_layer_norm": "norm1", "final_layer_norm": "norm2", "fc1": "linear1", "fc2": "linear2"}
_DEC_LAYER = {
    "self_attn_layer_norm": "norm1",
    "encoder_attn_layer_norm": "norm2",
    "final_layer_norm": "norm3",
    "fc1": "linear1",
    "fc2": "linear2",
}


def official_key(key, version):
    """The official key for one HF key ('…self_attn.{q,k,v}_proj…' map to in_proj_* with a row slot), or None."""
    seq = version == "v1"  # v1's encoder input_proj / enc_output are unnamed Sequentials
    if key.startswith("model.backbone.model."):
        return _backbone_key(key[len("model.backbone.model.") :])
    m = re.fullmatch(r"model\.encoder_input_proj\.(\d+)\.([01])\.(.+)", key)
    if m:
        part = m.group(2) if seq else ("conv" if m.group(2) == "0" else "norm")
        return f"encoder.input_proj.{m.group(1)}.{part}.{m.group(3)}"
    m = re.fullmatch(r"model\.decoder_input_proj\.(\d+)\.([01])\.(.+)", key)
    if m:
        return f"decoder.input_proj.{m.group(1)}.{'conv' if m.group(2) == '0' else 'norm'}.{m.group(3)}"
    m = re.fullmatch(r"model\.encoder\.encoder\.(\d+)\.layers\.(\d+)\.(\w+)\.(.+)", key)
    if m:
        i, k, module, tail = m.groups()
        prefix = f"encoder.encoder.{i}.layers.{k}"
        if module == "self_attn":
            return _attn_key(prefix, tail)
        return f"{prefix}.{_ENC_LAYER[module]}.{tail}" if module in _ENC_LAYER else None
    m = re.fullmatch(r"model\.encoder\.((?:fpn_blocks|pan_blocks|lateral_convs|downsample_convs)\..+)", key)
    if m:
        return f"encoder.{m.group(1)}"
    m = re.fullmatch(r"model\.decoder\.layers\.(\d+)\.(\w+)\.(.+)", key)
    if m:
        i, module, tail = m.groups()
        prefix = f"decoder.decoder.layers.{i}"
        if module == "self_attn":
            return _attn_key(prefix, tail)
        if module == "encoder_attn":
            tail = "num_points_scale" if tail == "n_points_scale" else tail
            return f"{prefix}.cross_attn.{tail}"
        return f"{prefix}.{_DEC_LAYER[module]}.{tail}" if module in _DEC_LAYER else None
    m = re.fullmatch(r"(?:model\.decoder\.)?class_embed\.(\d+)\.(weight|bias)", key)
    if m:
        return f"decoder.dec_score_head.{m.group(1)}.{m.group(2)}"
    m = re.fullmatch(r"(?:model\.decoder\.)?bbox_embed\.(\d+)\.(layers\.\d+\.(?:weight|bias))", key)
    if m:
        return f"decoder.dec_bbox_head.{m.group(1)}.{m.group(2)}"
    m = re.fullmatch(r"model\.decoder\.(query_pos_head\..+)", key)
    if m:
        return f"decoder.{m.group(1)}"
    m = re.fullmatch(r"model\.enc_output\.([01])\.(weight|bias)", key)
    if m:
        part = m.group(1) if seq else ("proj" if m.group(1) == "0" else "norm")
        return f"decoder.enc_output.{part}.{m.group(2)}"
    m = re.fullmatch(r"model\.((?:enc_score_head|enc_bbox_head|denoising_class_embed)\..+)", key)
    if m:
        return f"decoder.{m.group(1)}"
    if key == "model.weight_embedding.weight":
        return "decoder.tgt_embed.weight"
    return None


def _attn_key(prefix, tail):
    m = re.fullmatch(r"([qkv])_proj\.(weight|bias)", tail)
    if m:
        return (f"{prefix}.self_attn.in_proj_{m.group(2)}", "qkv".index(m.group(1)))
    return f"{prefix}.self_attn.{tail}" if tail.startswith("out_proj.") else None


def hf_to_official(hf_state, version):
    """HF state dict -> official-layout state dict (q/k/v concatenated into in_proj_*)."""
    out, parts, unknown = {}, {}, []
    for key, value in hf_state.items():
        if _IGNORED.search(key):
            continue
        target = official_key(key, version)
        if target is None:
            unknown.append(key)
        elif isinstance(target, tuple):
            parts.setdefault(target[0], {})[target[1]] = value
        elif target in out and not torch.equal(out[target], value):
            raise HFCheckpointError(f"{key} and another key both map to {target} with different values")
        else:
            out[target] = value
    if unknown:
        raise HFCheckpointError(f"{len(unknown)} Hugging Face RT-DETR keys not understood, e.g. {unknown[:8]}")
    for target, slots in parts.items():
        if sorted(slots) != [0, 1, 2]:
            raise HFCheckpointError(f"{target}: q_proj, k_proj and v_proj are needed, found slots {sorted(slots)}")
        out[target] = torch.cat([slots[0], slots[1], slots[2]], 0)
    return out


def official_to_hf(official, version):
    """The conversion scripts' direction (official -> HF keys, in_proj split into q/k/v), for synthetic fixtures:
    heads under model.decoder.* and the tied top-level copies, no num_batches_tracked (the scripts drop them)."""
    targets = {}
    for key, value in official.items():
        if key.endswith("num_batches_tracked"):
            continue
        for hf_key, slot in _hf_candidates(key, version):
            chunk = value if slot is None else value.chunk(3, 0)[slot]
            targets[hf_key] = chunk.clone()
    return targets


def _hf_candidates(key, version):
    rules = [
        (
            r"backbone\.conv1\.conv1_(\d)\.conv\.weight",
            lambda m: [f"embedder.embedder.{int(m[1]) - 1}.convolution.weight"],
        ),
        (
            rf"backbone\.conv1\.conv1_(\d)\.norm\.{_BN}",
            lambda m: [f"embedder.embedder.{int(m[1]) - 1}.normalization.{m[2]}"],
        ),
    ]
    for pattern, make in rules:
        m = re.fullmatch(pattern, key)
        if m:
            return [("model.backbone.model." + k, None) for k in make(m)]
    m = re.fullmatch(
        r"backbone\.res_layers\.(\d+)\.blocks\.(\d+)\.(short\.conv|short|branch2[abc])\.(conv\.weight|norm\..+)", key
    )
    if m:
        where = {"short": "shortcut", "short.conv": "shortcut.1"}.get(m[3]) or f"layer.{'abc'.index(m[3][-1])}"
        part = "convolution.weight" if m[4] == "conv.weight" else "normalization." + m[4][5:]
        return [(f"model.backbone.model.encoder.stages.{m[1]}.layers.{m[2]}.{where}.{part}", None)]
    m = re.fullmatch(r"encoder\.input_proj\.(\d+)\.(0|1|conv|norm)\.(.+)", key)
    if m:
        return [(f"model.encoder_input_proj.{m[1]}.{'0' if m[2] in ('0', 'conv') else '1'}.{m[3]}", None)]
    m = re.fullmatch(r"decoder\.input_proj\.(\d+)\.(conv|norm)\.(.+)", key)
    if m:
        return [(f"model.decoder_input_proj.{m[1]}.{'0' if m[2] == 'conv' else '1'}.{m[3]}", None)]
    m = re.fullmatch(r"(encoder\.encoder\.\d+\.layers\.\d+|decoder\.decoder\.layers\.\d+)\.(\w+)\.(.+)", key)
    if m:
        prefix = "model." + m[1].replace("decoder.decoder.", "decoder.")
        if m[2] == "self_attn" and m[3].startswith("in_proj_"):
            kind = m[3][len("in_proj_") :]
            return [(f"{prefix}.self_attn.{q}_proj.{kind}", i) for i, q in enumerate("qkv")]
        if m[2] == "cross_attn":
            tail = "n_points_scale" if m[3] == "num_points_scale" else m[3]
            return [(f"{prefix}.encoder_attn.{tail}", None)]
        names = {v: k for k, v in (_ENC_LAYER if key.startswith("encoder.") else _DEC_LAYER).items()}
        return [(f"{prefix}.{names.get(m[2], m[2])}.{m[3]}", None)]
    m = re.fullmatch(r"encoder\.(.+)", key)
    if m:
        return [(f"model.encoder.{m[1]}", None)]
    m = re.fullmatch(r"decoder\.dec_score_head\.(\d+)\.(.+)", key)
    if m:
        return [(f"model.decoder.class_embed.{m[1]}.{m[2]}", None), (f"class_embed.{m[1]}.{m[2]}", None)]
    m = re.fullmatch(r"decoder\.dec_bbox_head\.(\d+)\.(.+)", key)
    if m:
        return [(f"model.decoder.bbox_embed.{m[1]}.{m[2]}", None), (f"bbox_embed.{m[1]}.{m[2]}", None)]
    m = re.fullmatch(r"decoder\.enc_output\.(0|1|proj|norm)\.(.+)", key)
    if m:
        return [(f"model.enc_output.{'0' if m[1] in ('0', 'proj') else '1'}.{m[2]}", None)]
    if key == "decoder.tgt_embed.weight":
        return [("model.weight_embedding.weight", None)]
    m = re.fullmatch(r"decoder\.(query_pos_head\..+)", key)
    if m:
        return [(f"model.decoder.{m[1]}", None)]
    m = re.fullmatch(r"decoder\.((?:enc_score_head|enc_bbox_head|denoising_class_embed)\..+)", key)
    if m:
        return [(f"model.{m[1]}", None)]
    raise KeyError(f"no Hugging Face name for official key {key}")


# --- config ---------------------------------------------------------------------------------------------------------


def rtdetr_overrides(config, version):
    """Our config keys from config.json (what the weights cannot say); unsupported settings raise."""

    def need(name, want, default):
        value = config.get(name, default)
        if value != want:
            raise HFCheckpointError(f"config.json {name}={value!r} is not supported (webdetr implements {want!r})")

    if config.get("use_timm_backbone") and not config.get("backbone_config"):
        raise HFCheckpointError("config.json: a timm backbone is not supported, only the RT-DETR ResNet-vd backbone")
    backbone = config.get("backbone_config") or {}
    if backbone.get("model_type", "rt_detr_resnet") not in ("rt_detr_resnet", "rt_detr_v2_resnet"):
        raise HFCheckpointError(f"backbone model_type {backbone.get('model_type')!r} is not supported")
    if backbone.get("downsample_in_bottleneck", False):
        raise HFCheckpointError("backbone downsample_in_bottleneck=true is not supported (ResNet-vd strides the 3x3)")
    if backbone.get("hidden_act", "relu") != "relu":
        raise HFCheckpointError(f"backbone hidden_act {backbone.get('hidden_act')!r} is not supported")
    stages = backbone.get("out_features", ["stage2", "stage3", "stage4"])
    return_idx = [int(s[len("stage") :]) - 1 for s in stages]
    need("normalize_before", False, False)
    # transformers runs the encoder without position embeddings when eval_size is set (RTDetrHybridEncoder.forward)
    need("eval_size", None, None)
    if backbone.get("downsample_in_first_stage", False):
        raise HFCheckpointError("backbone downsample_in_first_stage=true is not supported (ResNet-vd: stride 1)")
    need("decoder_activation_function", "relu", "relu")
    need("layer_norm_eps", 1e-5, 1e-5)
    need("batch_norm_eps", 1e-5, 1e-5)
    levels = config.get("num_feature_levels", 3)
    points = config.get("decoder_n_points", 4)
    if version == "v2":
        need("decoder_offset_scale", 0.5, 0.5)
        if config.get("decoder_n_levels", levels) != levels:
            raise HFCheckpointError("config.json decoder_n_levels differs from num_feature_levels")
    points = list(points) if isinstance(points, (list, tuple)) else [points] * levels
    overrides = {
        "return_idx": return_idx,
        "enc_heads": config.get("encoder_attention_heads", 8),
        "enc_act": config.get("encoder_activation_function", "gelu"),
        "use_encoder_idx": list(config.get("encode_proj_layers", [2])),
        "pe_temperature": config.get("positional_encoding_temperature", config.get("pe_temperature", 10000)),
        "act": config.get("activation_function", "silu"),
        "feat_strides": list(config.get("feat_strides", [8, 16, 32])),
        "queries": config.get("num_queries", 300),
        "dec_heads": config.get("decoder_attention_heads", 8),
        "num_points": points,
        "cross_attn_method": config.get("decoder_method", "default") if version == "v2" else "default",
        "eval_idx": config.get("eval_idx", -1),
    }
    return overrides


def load_hf_rtdetr(path):
    """(our RTDETR model with the checkpoint's weights, its cfg, config.json, preprocessor_config.json, files)."""
    files, config, preprocessor = read_config(path)
    version = MODEL_TYPES.get(config.get("model_type"))
    if version is None:
        raise HFCheckpointError(f"{files.config}: model_type {config.get('model_type')!r} is not RT-DETR")
    official = hf_to_official(read_weights(files), version)
    overrides = rtdetr_overrides(config, version)
    cfg = detect_config(official, overrides)
    if cfg["version"] != version:
        raise HFCheckpointError(f"model_type {config['model_type']} but the weights are laid out as {cfg['version']}")
    if cfg["learn_query_content"] != bool(config.get("learn_initial_query", config.get("learnt_init_query", False))):
        raise HFCheckpointError("config.json learn_initial_query disagrees with the weights (model.weight_embedding)")
    if cfg["hidden"] != config.get("d_model", cfg["hidden"]):
        raise HFCheckpointError(f"config.json d_model {config.get('d_model')} but the weights have {cfg['hidden']}")
    model = RTDETR(cfg).eval()
    state = model.state_dict()
    missing = [k for k in state if k not in official and not k.endswith("num_batches_tracked")]
    extra = [k for k in official if k not in state]
    if missing or extra:
        raise HFCheckpointError(f"weights do not fit the config: missing {missing[:6]}, unexpected {extra[:6]}")
    for key, value in official.items():
        if key.endswith("num_points_scale"):
            want = torch.tensor([1 / n for n in cfg["num_points"] for _ in range(n)])
            if value.shape != want.shape or (value.float() - want).abs().max() > 1e-6:
                raise HFCheckpointError(f"{key} is not 1 / points per level {cfg['num_points']}")
        state[key] = value.to(state[key].dtype)
    model.load_state_dict(state, strict=True)
    return model, cfg, config, preprocessor, files


def fixed_size(preprocessor):
    """(height, width) of the RT-DETR image processor's resize (default 640 x 640)."""
    size = (preprocessor or {}).get("size", {"height": 640, "width": 640})
    if not (isinstance(size, dict) and "height" in size and "width" in size):
        raise HFCheckpointError(f"preprocessor_config.json size {size!r}: RT-DETR needs a fixed height / width")
    return int(size["height"]), int(size["width"])


def export_hf_rtdetr(
    path,
    out_dir,
    height=None,
    width=None,
    class_names_=None,
    fp16=False,
    split=True,
    single_graph=True,
    progress=print,
):
    started = time.time()
    model, cfg, config, preprocessor, files = load_hf_rtdetr(path)
    size = fixed_size(preprocessor)
    height, width = height or size[0], width or size[1]
    if height != width:
        # transformers' discrete sampling clamps x to W - 1 (the official code and our kernels: to H - 1), and its 2D
        # sin-cos position embedding changed order between releases; both agree with ours on square maps only.
        if cfg["cross_attn_method"] == "discrete":
            raise HFCheckpointError(
                f"{height}x{width}: a Hugging Face v2 discrete checkpoint exports at a square size only "
                "(transformers clamps the discrete sampling's x to W - 1, the official code and webdetr to H - 1)"
            )
        progress(
            f"note: {height}x{width} is not square: the package follows the official RT-DETR position embedding, "
            "which recent transformers releases order differently on non-square feature maps"
        )
    anchor = config.get("anchor_image_size")
    if anchor and list(anchor) != [height, width]:
        progress(
            f"note: config.json anchor_image_size {anchor} differs from the export size {height}x{width}; the "
            "package computes anchors for its own size, as the official code does without eval_spatial_size"
        )
    settings = preprocess_settings({"do_normalize": False, **(preprocessor or {})})
    names = class_names_ or class_names(config, cfg["num_classes"])
    if len(names) != cfg["num_classes"]:
        raise HFCheckpointError(f"{len(names)} class names for {cfg['num_classes']} classes")
    progress(
        f"found Hugging Face rt-detr {cfg['version']} ({config['model_type']}): presnet{cfg['depth']}vd, hidden "
        f"{cfg['hidden']}, decoder {cfg['dec_layers']} layers x {cfg['dec_heads']} heads, points {cfg['num_points']} "
        f"({cfg['cross_attn_method']}), queries {cfg['queries']}, classes {cfg['num_classes']}, input {height}x{width}"
    )
    weights = files.weights[0]
    source = {"checkpoint": Path(weights).name, "sha256": file_digest(weights), "format": "huggingface"}
    description = rtdetr_description(cfg, names, source, height, width)
    description["input"].update(mean=settings["mean"], std=settings["std"], pixelScale=settings["pixel_scale"])
    description["output"]["topK"] = cfg["queries"]  # post_process_object_detection keeps num_queries detections
    manifest = write_rtdetr_package(model, out_dir, height, width, description, split, single_graph, fp16, progress)
    progress(f"wrote {out_dir}/manifest.json: {len(manifest['graphs'])} graphs, {time.time() - started:.1f} s")
    return manifest


def post_process_object_detection(logits, boxes, target_sizes, k=None):
    """RTDetrImageProcessor.post_process_object_detection (use_focal_loss=True) without its threshold: sigmoid,
    top-k over queries x classes with k = the number of queries, boxes cxcywh -> corners times (w, h, w, h)."""
    prob = logits.sigmoid()
    batch, queries, classes = prob.shape
    scores, index = torch.topk(prob.reshape(batch, -1), k or queries, dim=1)
    query, label = torch.div(index, classes, rounding_mode="floor"), index % classes
    cx, cy, w, h = boxes.unbind(-1)
    corners = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)
    corners = torch.gather(corners, 1, query.unsqueeze(-1).repeat(1, 1, 4))
    out = []
    for i, (height, width) in enumerate(target_sizes):
        scale = torch.tensor([width, height, width, height], dtype=corners.dtype)
        out.append({"scores": scores[i], "labels": label[i], "boxes": corners[i] * scale})
    return out
