"""Hugging Face Deformable-DETR checkpoints -> the official state dict our exporter and reference model load.

A Hugging Face checkpoint is a directory (or its files) holding config.json (the architecture; id2label names the
classes), the weights as model.safetensors (or a sharded model.safetensors.index.json) or pytorch_model.bin, and
optionally preprocessor_config.json (mean/std, rescale factor, size policy). Supported:
DeformableDetrForObjectDetection, plain / with_box_refine / two_stage, single- or multi-scale, with either backbone
kind transformers builds for it:
- use_timm_backbone (the hub checkpoints, e.g. SenseTime/deformable-detr): timm resnet18/34/50/101/152, whose module
  names and layout are torchvision's (keys model.backbone.conv_encoder.model.conv1/bn1/layer1..4);
- use_timm_backbone false with a transformers ResNet backbone_config (keys ...model.embedder / encoder.stages), any
  widths and depths, basic or bottleneck blocks (stride on the 3x3 conv, like torchvision); a ResNet named without
  a backbone_config (AutoBackbone, e.g. "microsoft/resnet-50") has its layout read from the weights.
Not supported, each with an error saying so: other backbones (Swin, ConvNeXt, timm resnet50d ...), dilation,
learned position embeddings, activations other than relu, different encoder/decoder head counts or FFN widths.

API
  read_safetensors(path) -> {name: tensor} (float tensors as float32); SafetensorsError on a malformed file.
  write_safetensors(path, tensors, metadata=None)
  is_huggingface_checkpoint(path) -> bool
  resolve_files(path) -> HFFiles(config, weights: list, preprocessor or None, kind 'safetensors' | 'bin')
  hf_to_official(hf_state_dict, config) -> official state dict (aliases filled, q/k/v fused into in_proj);
      UnknownKeysError names every HF key no rule maps, KeyMismatch errors come later from strict loading.
  official_to_hf(official_state_dict, config) -> HF state dict (the inverse, for tests and synthetic checkpoints)
  load_huggingface_checkpoint(path) -> HFCheckpoint(state_dict (official keys), args (official names), dims_extra
      (backbone spec for the skeleton), class_names, preprocess (mean, std, pixel_scale, size), source)
  post_process_object_detection(logits, boxes, target_sizes, k=100) -> per image dict(scores, labels, boxes)
      (HF's post_process_object_detection before its threshold: sigmoid, top-k over queries x classes, corners x size)
"""
import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..models.backbone import RESNET_SPECS, resnet_spec

# --- safetensors --------------------------------------------------------------------------------------------------

_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": np.uint16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def read_safetensors(path):
    """All tensors of a .safetensors file: 8-byte little-endian header length, JSON header, raw little-endian data."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise SafetensorsError(f"{path}: {size} bytes, too short for a safetensors header")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > min(_MAX_HEADER, size - 8):
            raise SafetensorsError(
                f"{path}: header length {header_len} exceeds the file ({size} bytes) "
                "or the 100 MB limit: not a safetensors file"
            )
        raw = handle.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsError(f"{path}: header is not UTF-8 JSON ({error})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    header.pop("__metadata__", None)
    data_size = size - 8 - header_len
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len, shape=(data_size,)) if data_size else b""
    tensors, spans = {}, []
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (TypeError, KeyError, ValueError) as error:
            raise SafetensorsError(f"{path}: tensor {name!r} has a malformed entry {info!r} ({error})") from None
        if dtype not in _DTYPES:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
        np_dtype = np.dtype(_DTYPES[dtype])
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= begin <= end <= data_size) or end - begin != count * np_dtype.itemsize:
            raise SafetensorsError(
                f"{path}: tensor {name!r} ({dtype} {shape}) has data_offsets [{begin}, {end}] "
                f"that do not fit its size or the {data_size}-byte data section"
            )
        spans.append((begin, end, name))
        array = np.frombuffer(bytes(data[begin:end]), dtype=np_dtype.newbyteorder("<")).reshape(shape)
        if dtype == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        elif np_dtype.kind == "f":
            array = array.astype(np.float32)
        tensors[name] = torch.from_numpy(np.array(array, dtype=array.dtype.newbyteorder("=")))
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsError(f"{path}: tensors {n0!r} and {n1!r} overlap")
    return tensors


def write_safetensors(path, tensors, metadata=None):
    """Write float32/float16/int64 tensors in safetensors layout (keys sorted, header padded to 8 bytes)."""
    names = {
        torch.float32: "F32",
        torch.float16: "F16",
        torch.float64: "F64",
        torch.int64: "I64",
        torch.int32: "I32",
        torch.uint8: "U8",
        torch.bool: "BOOL",
    }
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        blob = tensor.numpy().astype(tensor.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": names[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)))
        handle.write(raw)
        for blob in blobs:
            handle.write(blob)


# --- files --------------------------------------------------------------------------------------------------------


class HFCheckpointError(ValueError):
    pass


@dataclass
class HFFiles:
    config: Path
    weights: list
    kind: str  # 'safetensors' | 'bin'
    preprocessor: Path = None


def is_huggingface_checkpoint(path) -> bool:
    path = Path(path)
    if path.is_dir():
        return (path / "config.json").is_file()
    if path.name == "config.json" or path.suffix == ".safetensors" or path.name.endswith(".safetensors.index.json"):
        return True
    return path.suffix == ".bin" and (path.parent / "config.json").is_file()


def resolve_files(path) -> HFFiles:
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    config = folder / "config.json"
    if not config.is_file():
        raise HFCheckpointError(f"{path}: a Hugging Face checkpoint needs its config.json (looked in {folder})")
    preprocessor = folder / "preprocessor_config.json"
    preprocessor = preprocessor if preprocessor.is_file() else None
    if path.is_dir() or path.name == "config.json":
        for name, kind in (
            ("model.safetensors", "safetensors"),
            ("model.safetensors.index.json", "safetensors"),
            ("pytorch_model.bin", "bin"),
        ):
            if (folder / name).is_file():
                path = folder / name
                break
        else:
            raise HFCheckpointError(
                f"{folder}: no model.safetensors, model.safetensors.index.json or "
                "pytorch_model.bin next to config.json"
            )
    if path.name.endswith(".safetensors.index.json"):
        weight_map = json.loads(path.read_text()).get("weight_map", {})
        shards = sorted({folder / f for f in weight_map.values()})
        if not shards:
            raise HFCheckpointError(f"{path}: empty weight_map")
        return HFFiles(config, shards, "safetensors", preprocessor)
    if path.suffix == ".safetensors":
        return HFFiles(config, [path], "safetensors", preprocessor)
    if path.suffix == ".bin":
        return HFFiles(config, [path], "bin", preprocessor)
    raise HFCheckpointError(f"{path}: not a Hugging Face weights file (.safetensors or pytorch_model.bin)")


def read_weights(files: HFFiles):
    state = {}
    for weights in files.weights:
        if files.kind == "safetensors":
            part = read_safetensors(weights)
        else:
            part = torch.load(str(weights), map_location="cpu")
            if not isinstance(part, dict) or not all(isinstance(v, torch.Tensor) for v in part.values()):
                raise HFCheckpointError(f"{weights}: not a state dict of tensors")
            part = {k: v.float() if v.is_floating_point() else v for k, v in part.items()}
        state.update(part)
    return state


# --- config -------------------------------------------------------------------------------------------------------

SUPPORTED = (
    "supported: DeformableDetrForObjectDetection (plain, with_box_refine, two_stage) with a ResNet backbone: "
    "timm resnet18/34/50/101/152 (use_timm_backbone) or a transformers ResNet backbone_config "
    "(basic or bottleneck, out_features stage2-4 or stage4), no dilation, sine position embeddings, relu"
)


def _unsupported(what):
    return HFCheckpointError(f"unsupported Hugging Face Deformable-DETR config: {what} ({SUPPORTED})")


def backbone_spec(config, hf_state=None):
    """(spec dict for models.backbone, key style 'timm' | 'hf-resnet', description). A transformers backbone named
    without a backbone_config (AutoBackbone, e.g. "microsoft/resnet-50") has its ResNet layout read from the weights
    (hf_state) when they hold one."""
    levels = int(config.get("num_feature_levels", 4))
    wanted = [2, 3, 4] if levels > 1 else [4]
    if config.get("dilation"):
        raise _unsupported("dilation=True")
    if config.get("use_timm_backbone", True):
        name = config.get("backbone", "resnet50")
        if name not in RESNET_SPECS:
            raise _unsupported(f"timm backbone {name!r}")
        kwargs = dict(config.get("backbone_kwargs") or {})
        indices = list(kwargs.pop("out_indices", wanted))
        kwargs.pop("in_chans", None)
        if indices != wanted or kwargs:
            raise _unsupported(f"backbone_kwargs {config.get('backbone_kwargs')} (out_indices must be {wanted})")
        return resnet_spec(name), "timm", name
    backbone = config.get("backbone_config")
    if backbone is None and hf_state is not None and _BACKBONE + "embedder.embedder.convolution.weight" in hf_state:
        backbone = dict(_resnet_from_weights(hf_state), out_features=[f"stage{i}" for i in wanted])
    if not isinstance(backbone, dict) or backbone.get("model_type") != "resnet":
        kind = backbone.get("model_type") if isinstance(backbone, dict) else config.get("backbone")
        raise _unsupported(f"backbone {kind!r}")
    if (
        backbone.get("hidden_act", "relu") != "relu"
        or backbone.get("downsample_in_first_stage", False)
        or backbone.get("downsample_in_bottleneck", False)
    ):
        raise _unsupported(
            "ResNet backbone_config with hidden_act other than relu, downsample_in_first_stage or "
            "downsample_in_bottleneck"
        )
    layer_type = backbone.get("layer_type", "bottleneck")
    widths = list(backbone.get("hidden_sizes", [256, 512, 1024, 2048]))
    depths = list(backbone.get("depths", [3, 4, 6, 3]))
    if (
        len(widths) != 4
        or len(depths) != 4
        or layer_type not in ("basic", "bottleneck")
        or (layer_type == "bottleneck" and any(w % 4 for w in widths))
    ):
        raise _unsupported(
            f"ResNet backbone_config layer_type {layer_type!r}, hidden_sizes {widths}, depths {depths} "
            "(4 stages; bottleneck widths divisible by 4)"
        )
    stages = backbone.get("out_features")
    if stages is None and backbone.get("out_indices") is not None:
        stages = [f"stage{i}" if i else "stem" for i in backbone["out_indices"]]
    if list(stages or ["stage4"]) != [f"stage{i}" for i in wanted]:
        raise _unsupported(
            f"ResNet out_features {stages} for {levels} feature level(s) (need " f"{[f'stage{i}' for i in wanted]})"
        )
    spec = dict(block=layer_type, stem=int(backbone.get("embedding_size", 64)), widths=widths, depths=depths)
    description = f"hf-resnet {layer_type} {'-'.join(map(str, widths))} x {'-'.join(map(str, depths))}"
    return spec, "hf-resnet", description


def _resnet_from_weights(hf_state):
    """A transformers ResNet backbone_config (the parts the layout needs) read from its weights' names and shapes."""
    stages = {}
    for key in hf_state:
        m = re.match(
            re.escape(_BACKBONE) + r"encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.(\d+)\.convolution\.weight$", key
        )
        if m:
            stage = stages.setdefault(int(m.group(1)), {})
            stage[int(m.group(2))] = max(stage.get(int(m.group(2)), 0), int(m.group(3)))
    order = sorted(stages)
    convs = {stages[s][0] for s in order}
    widths = [
        int(hf_state[f"{_BACKBONE}encoder.stages.{s}.layers.0.layer.{stages[s][0]}.convolution.weight"].shape[0])
        for s in order
    ]
    return {
        "model_type": "resnet",
        "embedding_size": int(hf_state[_BACKBONE + "embedder.embedder.convolution.weight"].shape[0]),
        "hidden_sizes": widths,
        "depths": [len(stages[s]) for s in order],
        "layer_type": "bottleneck" if convs == {2} else "basic" if convs == {1} else f"unknown ({convs})",
    }


def official_args(config):
    """The official args (names as in the official main.py) the config stands for, after checking support."""
    architectures = config.get("architectures") or ["DeformableDetrForObjectDetection"]
    if (
        config.get("model_type", "deformable_detr") != "deformable_detr"
        or "DeformableDetrForObjectDetection" not in architectures
    ):
        raise _unsupported(f"model_type {config.get('model_type')!r} / architectures {architectures}")
    if config.get("position_embedding_type", "sine") != "sine":
        raise _unsupported(f"position_embedding_type {config.get('position_embedding_type')!r}")
    if config.get("activation_function", "relu") != "relu":
        raise _unsupported(f"activation_function {config.get('activation_function')!r}")
    heads = int(config.get("encoder_attention_heads", 8)), int(config.get("decoder_attention_heads", 8))
    ffn = int(config.get("encoder_ffn_dim", 1024)), int(config.get("decoder_ffn_dim", 1024))
    if heads[0] != heads[1] or ffn[0] != ffn[1]:
        raise _unsupported(f"encoder/decoder attention heads {heads} or ffn dims {ffn} that differ")
    if int(config.get("num_channels", 3)) != 3:
        raise _unsupported(f"num_channels {config.get('num_channels')}")
    two_stage, refine = bool(config.get("two_stage", False)), bool(config.get("with_box_refine", False))
    if two_stage and not refine:
        raise _unsupported("two_stage without with_box_refine")
    queries = int(config.get("two_stage_num_proposals", 300)) if two_stage else int(config.get("num_queries", 300))
    return {
        "hidden_dim": int(config.get("d_model", 256)),
        "nheads": heads[0],
        "dim_feedforward": ffn[0],
        "enc_layers": int(config.get("encoder_layers", 6)),
        "dec_layers": int(config.get("decoder_layers", 6)),
        "num_feature_levels": int(config.get("num_feature_levels", 4)),
        "enc_n_points": int(config.get("encoder_n_points", 4)),
        "dec_n_points": int(config.get("decoder_n_points", 4)),
        "num_queries": queries,
        "with_box_refine": refine,
        "two_stage": two_stage,
        "dilation": False,
        "position_embedding": "sine",
    }


def class_names(config, num_classes):
    labels = config.get("id2label")
    if not labels:
        return [f"class_{i}" for i in range(num_classes)]
    labels = {int(k): str(v) for k, v in labels.items()}
    outside = sorted(i for i in labels if not 0 <= i < num_classes)
    if outside:
        raise HFCheckpointError(
            f"config.json id2label names ids {outside[:10]} but the class head has {num_classes} "
            f"outputs (ids 0..{num_classes - 1})"
        )
    # ids id2label leaves out keep a placeholder name
    return [labels.get(i, f"class_{i}") for i in range(num_classes)]


def preprocess_settings(preprocessor):
    """mean, std, pixel_scale and the size rule of preprocessor_config.json (defaults: HF's DeformableDetr ones)."""
    p = preprocessor or {}
    mean = list(p.get("image_mean", [0.485, 0.456, 0.406])) if p.get("do_normalize", True) else [0.0, 0.0, 0.0]
    std = list(p.get("image_std", [0.229, 0.224, 0.225])) if p.get("do_normalize", True) else [1.0, 1.0, 1.0]
    scale = 1.0 / float(p.get("rescale_factor", 1 / 255)) if p.get("do_rescale", True) else 1.0
    size = p.get("size", {"shortest_edge": 800, "longest_edge": 1333})
    if isinstance(size, int):
        size = {"shortest_edge": size, "longest_edge": p.get("max_size", 1333)}
    scale = round(scale, 6)
    return {
        "mean": mean,
        "std": std,
        "pixel_scale": int(scale) if scale == int(scale) else scale,
        "size": size,
        "resize": bool(p.get("do_resize", True)),
        "pad": bool(p.get("do_pad", True)),
    }


# --- keys ---------------------------------------------------------------------------------------------------------

_ENCODER = {"self_attn_layer_norm": "norm1", "fc1": "linear1", "fc2": "linear2", "final_layer_norm": "norm2"}
_DECODER = {
    "self_attn_layer_norm": "norm2",
    "encoder_attn_layer_norm": "norm1",
    "fc1": "linear1",
    "fc2": "linear2",
    "final_layer_norm": "norm3",
    "self_attn.out_proj": "self_attn.out_proj",
    "encoder_attn": "cross_attn",
}
_TRANSFORMER = ("enc_output", "enc_output_norm", "pos_trans", "pos_trans_norm", "reference_points")
_BACKBONE = "model.backbone.conv_encoder.model."


class UnknownKeysError(HFCheckpointError):
    def __init__(self, keys):
        self.keys = sorted(keys)
        super().__init__(
            f"{len(self.keys)} Hugging Face key(s) that no Deformable-DETR rule maps: "
            + ", ".join(self.keys[:30])
            + (" ..." if len(self.keys) > 30 else "")
        )


def _hf_resnet_key(rest):
    """transformers ResNet names -> torchvision ones (None when the key is no ResNet backbone key)."""
    if rest.startswith("embedder.embedder."):
        part = rest[len("embedder.embedder.") :]
        return (
            ("conv1." + part.split(".", 1)[1])
            if part.startswith("convolution.")
            else ("bn1." + part.split(".", 1)[1])
            if part.startswith("normalization.")
            else None
        )
    m = re.match(r"encoder\.stages\.(\d+)\.layers\.(\d+)\.(.*)$", rest)
    if not m:
        return None
    stage, index, tail = int(m.group(1)), m.group(2), m.group(3)
    prefix = f"layer{stage + 1}.{index}."
    m2 = re.match(r"shortcut\.(convolution|normalization)\.(.*)$", tail)
    if m2:
        return prefix + ("downsample.0." if m2.group(1) == "convolution" else "downsample.1.") + m2.group(2)
    m2 = re.match(r"layer\.(\d+)\.(convolution|normalization)\.(.*)$", tail)
    if m2:
        k = int(m2.group(1)) + 1
        return prefix + (f"conv{k}." if m2.group(2) == "convolution" else f"bn{k}.") + m2.group(3)
    return None


def _official_key(key, style):
    """One HF key -> official key, or 'qkv' marker tuple for the decoder self-attention projections; None if unknown."""
    if key.startswith(_BACKBONE):
        rest = key[len(_BACKBONE) :]
        if style == "timm":
            return "backbone.0.body." + rest if re.match(r"(conv1|bn1|layer[1-4])\.", rest) else None
        mapped = _hf_resnet_key(rest)
        return "backbone.0.body." + mapped if mapped else None
    m = re.match(r"model\.input_proj\.(\d+\.\d+\.(weight|bias))$", key)
    if m:
        return "input_proj." + m.group(1)
    if key == "model.level_embed":
        return "transformer.level_embed"
    if key == "model.query_position_embeddings.weight":
        return "query_embed.weight"
    m = re.match(r"model\.(" + "|".join(_TRANSFORMER) + r")\.(weight|bias)$", key)
    if m:
        return f"transformer.{m.group(1)}.{m.group(2)}"
    m = re.match(r"model\.encoder\.layers\.(\d+)\.(.*)\.(weight|bias)$", key)
    if m:
        i, module, param = m.groups()
        if module.startswith("self_attn.") and module.split(".", 1)[1] in (
            "sampling_offsets",
            "attention_weights",
            "value_proj",
            "output_proj",
        ):
            return f"transformer.encoder.layers.{i}.{module}.{param}"
        return f"transformer.encoder.layers.{i}.{_ENCODER[module]}.{param}" if module in _ENCODER else None
    m = re.match(r"model\.decoder\.layers\.(\d+)\.(.*)\.(weight|bias)$", key)
    if m:
        i, module, param = m.groups()
        if module in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
            return ("qkv", f"transformer.decoder.layers.{i}.self_attn.in_proj_{param}", "qkv".index(module[-6]))
        if module.startswith("encoder_attn.") and module.split(".", 1)[1] in (
            "sampling_offsets",
            "attention_weights",
            "value_proj",
            "output_proj",
        ):
            return f"transformer.decoder.layers.{i}.cross_attn.{module.split('.', 1)[1]}.{param}"
        return f"transformer.decoder.layers.{i}.{_DECODER[module]}.{param}" if module in _DECODER else None
    m = re.match(r"(class_embed\.\d+\.(weight|bias)|bbox_embed\.\d+\.layers\.\d+\.(weight|bias))$", key)
    if m:
        return key
    m = re.match(r"model\.decoder\.((class_embed|bbox_embed)\..*)$", key)
    if m and _official_key(m.group(1), style) == m.group(1):
        return "transformer.decoder." + m.group(1)
    return None


def key_style(config):
    return "timm" if config.get("use_timm_backbone", True) else "hf-resnet"


def hf_to_official(hf_state_dict, config):
    """Rename, fuse q/k/v, drop num_batches_tracked, fill the shared-head aliases the official layout lists."""
    style = key_style(config)
    args = official_args(config)
    out, qkv, unknown = {}, {}, []
    for key, value in hf_state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        target = _official_key(key, style)
        if target is None:
            unknown.append(key)
        elif isinstance(target, tuple):
            qkv.setdefault(target[1], [None, None, None])[target[2]] = value
        else:
            out[target] = value
    if unknown:
        raise UnknownKeysError(unknown)
    for name, parts in qkv.items():
        missing = [p for p, v in zip("qkv", parts) if v is None]
        if missing:
            raise HFCheckpointError(f"{name}: the checkpoint lacks the {'/'.join(missing)}_proj part(s)")
        out[name] = torch.cat(parts, 0)
    heads = args["dec_layers"] + (1 if args["two_stage"] else 0)
    _fill_heads(out, heads, shared=not args["with_box_refine"])
    for flag, head in (("with_box_refine", "bbox_embed"), ("two_stage", "class_embed")):
        alias = "transformer.decoder." + head + "."
        aliased = {k[len("transformer.decoder.") :]: k for k in out if k.startswith(alias)}
        if not args[flag]:
            if aliased:
                raise HFCheckpointError(f"config.json says {flag}=false but the weights hold model.decoder.{head}")
            continue
        # One module under two names: a real checkpoint holds equal values; where both are given they pass through
        # and the strict loading takes the value of the name loaded last (bbox_embed / class_embed), as HF and the
        # official load_state_dict do.
        for key in [k for k in out if k.startswith(head + ".")]:
            out.setdefault(alias + key[len(head) + 1 :], out[key])
        for key, full in aliased.items():
            out.setdefault(key, out[full])
    return out


def _fill_heads(out, heads, shared):
    """Plain models share one class/box head over the decoder layers: HF's safetensors keep only index 0 of tied
    heads. The official layout lists them all (the last one loaded wins, as HF uses the last layer's)."""
    if not shared:
        return
    for head in ("class_embed", "bbox_embed"):
        present = sorted({int(k.split(".")[1]) for k in out if k.startswith(head + ".")})
        if present == [0]:
            for key in [k for k in out if k.startswith(head + ".0.")]:
                for i in range(1, heads):
                    out[f"{head}.{i}." + key[len(head) + 3 :]] = out[key]


def official_to_hf(official, config, tie_shared_heads=False):
    """Inverse of hf_to_official (aliases written as HF's pytorch_model.bin holds them; tie_shared_heads drops a
    plain model's heads 1.. as HF's safetensors do)."""
    style = key_style(config)
    args = official_args(config)
    out = {}
    for key, value in official.items():
        if key.startswith("transformer.decoder.layers.") and ".self_attn.in_proj_" in key:
            i = key.split(".")[3]
            param = key.rsplit("_", 1)[1]
            for j, part in enumerate(value.chunk(3, 0)):
                out[f"model.decoder.layers.{i}.self_attn.{'qkv'[j]}_proj.{param}"] = part
            continue
        hf = _hf_name(key, style)
        if tie_shared_heads and not args["with_box_refine"] and re.match(r"(class_embed|bbox_embed)\.[1-9]", key):
            continue
        out[hf] = value
    return out


def _hf_name(official_key, style):
    k = official_key
    if k.startswith("backbone.0.body."):
        rest = k[len("backbone.0.body.") :]
        if style == "timm":
            return _BACKBONE + rest
        m = re.match(r"(conv1|bn1)\.(.*)$", rest)
        if m:
            return (
                _BACKBONE
                + "embedder.embedder."
                + ("convolution." if m.group(1) == "conv1" else "normalization.")
                + m.group(2)
            )
        m = re.match(r"layer(\d)\.(\d+)\.(.*)$", rest)
        stage, index, tail = int(m.group(1)) - 1, m.group(2), m.group(3)
        prefix = f"{_BACKBONE}encoder.stages.{stage}.layers.{index}."
        m2 = re.match(r"downsample\.([01])\.(.*)$", tail)
        if m2:
            return prefix + "shortcut." + ("convolution." if m2.group(1) == "0" else "normalization.") + m2.group(2)
        m2 = re.match(r"(conv|bn)(\d)\.(.*)$", tail)
        return (
            prefix
            + f"layer.{int(m2.group(2)) - 1}."
            + ("convolution." if m2.group(1) == "conv" else "normalization.")
            + m2.group(3)
        )
    if k.startswith("input_proj."):
        return "model." + k
    if k == "transformer.level_embed":
        return "model.level_embed"
    if k == "query_embed.weight":
        return "model.query_position_embeddings.weight"
    m = re.match(r"transformer\.(" + "|".join(_TRANSFORMER) + r")\.(.*)$", k)
    if m:
        return f"model.{m.group(1)}.{m.group(2)}"
    m = re.match(r"transformer\.encoder\.layers\.(\d+)\.(.*)\.(weight|bias)$", k)
    if m:
        i, module, param = m.groups()
        names = {v: key for key, v in _ENCODER.items()}
        return f"model.encoder.layers.{i}.{names.get(module, module)}.{param}"
    m = re.match(r"transformer\.decoder\.layers\.(\d+)\.(.*)\.(weight|bias)$", k)
    if m:
        i, module, param = m.groups()
        if module.startswith("cross_attn."):
            return f"model.decoder.layers.{i}.encoder_attn.{module.split('.', 1)[1]}.{param}"
        names = {v: key for key, v in _DECODER.items() if key != "encoder_attn"}
        return f"model.decoder.layers.{i}.{names[module]}.{param}"
    if k.startswith("transformer.decoder."):
        return "model.decoder." + k[len("transformer.decoder.") :]
    return k


class HFKeyMismatchError(HFCheckpointError):
    """The weights lack keys the config's model has (or hold extra ones), named as the Hugging Face file names them."""

    def __init__(self, checkpoint, missing_official, unexpected_official):
        style = key_style(checkpoint.config)
        self.missing = sorted({n for k in missing_official for n in hf_names(k, style)})
        self.unexpected = sorted({n for k in unexpected_official for n in hf_names(k, style)})
        parts = [
            f"{len(self.missing)} missing: " + ", ".join(self.missing[:30]) if self.missing else "",
            f"{len(self.unexpected)} unexpected: " + ", ".join(self.unexpected[:30]) if self.unexpected else "",
        ]
        super().__init__(
            f"{checkpoint.source['weights']}: the weights do not match the model config.json describes "
            "(variant, levels, layers, backbone): " + "; ".join(p for p in parts if p)
        )


def hf_names(official_key, style):
    """The Hugging Face name(s) of an official key (the decoder's in_proj is three)."""
    if official_key.startswith("transformer.decoder.layers.") and ".self_attn.in_proj_" in official_key:
        i, param = official_key.split(".")[3], official_key.rsplit("_", 1)[1]
        return [f"model.decoder.layers.{i}.self_attn.{p}_proj.{param}" for p in "qkv"]
    try:
        return [_hf_name(official_key, style)]
    except (AttributeError, KeyError):
        return [official_key]


# --- loading ------------------------------------------------------------------------------------------------------


@dataclass
class HFCheckpoint:
    state_dict: dict
    args: dict
    backbone_spec: dict
    backbone: str
    class_names: list
    preprocess: dict
    config: dict
    source: dict = field(default_factory=dict)


def load_huggingface_checkpoint(path) -> HFCheckpoint:
    files = resolve_files(path)
    config = json.loads(files.config.read_text())
    args = official_args(config)
    hf_state = read_weights(files)
    spec, _, description = backbone_spec(config, hf_state)
    state = hf_to_official(hf_state, config)
    del hf_state
    head = state.get("class_embed.0.weight")
    if head is None:
        raise HFCheckpointError(
            f"{files.weights[0]}: no class_embed.0.weight: not a DeformableDetrForObjectDetection " "checkpoint"
        )
    preprocessor = json.loads(files.preprocessor.read_text()) if files.preprocessor else None
    args["backbone"] = description
    return HFCheckpoint(
        state_dict=state,
        args=args,
        backbone_spec=spec,
        backbone=description,
        class_names=class_names(config, head.shape[0]),
        preprocess=preprocess_settings(preprocessor),
        config=config,
        source={"format": "huggingface", "weights": files.weights[0], "kind": files.kind},
    )


def reference_model(checkpoint: HFCheckpoint):
    """Our PyTorch reference model (webdetr_tools.models.DeformableDETR, eval) with the checkpoint loaded strictly."""
    from ..config import ModelConfig
    from ..models.backbone import Backbone
    from ..models.deformable_detr import DeformableDETR

    a = checkpoint.args
    variant = "two-stage" if a["two_stage"] else "refine" if a["with_box_refine"] else "plain"
    config = ModelConfig(
        family="deformable-detr",
        variant=variant,
        hidden_dim=a["hidden_dim"],
        nheads=a["nheads"],
        enc_layers=a["enc_layers"],
        dec_layers=a["dec_layers"],
        dim_feedforward=a["dim_feedforward"],
        num_queries=a["num_queries"],
        num_feature_levels=a["num_feature_levels"],
        enc_n_points=a["enc_n_points"],
        dec_n_points=a["dec_n_points"],
        num_classes=len(checkpoint.class_names),
        backbone=checkpoint.backbone,
        with_box_refine=a["with_box_refine"],
        two_stage=a["two_stage"],
    )
    layers = ("layer2", "layer3", "layer4") if a["num_feature_levels"] > 1 else ("layer4",)
    model = DeformableDETR(config, backbone=Backbone(checkpoint.backbone, False, layers, spec=checkpoint.backbone_spec))
    return model.load_official_state_dict(checkpoint.state_dict).eval()


# --- post-processing ----------------------------------------------------------------------------------------------


def post_process_object_detection(logits, boxes, target_sizes, k=100):
    """HF DeformableDetrImageProcessor.post_process_object_detection without its score threshold: sigmoid, top-k
    over queries x classes (k=100, as HF), boxes cxcywh -> corners times (w, h, w, h). target_sizes: [(h, w)]."""
    prob = logits.sigmoid()
    batch, queries, classes = prob.shape
    scores, index = torch.topk(prob.reshape(batch, -1), k, dim=1)
    query, label = torch.div(index, classes, rounding_mode="floor"), index % classes
    cx, cy, w, h = boxes.unbind(-1)
    corners = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)
    corners = torch.gather(corners, 1, query.unsqueeze(-1).repeat(1, 1, 4))
    out = []
    for i, (height, width) in enumerate(target_sizes):
        scale = torch.tensor([width, height, width, height], dtype=corners.dtype)
        out.append({"scores": scores[i], "labels": label[i], "boxes": corners[i] * scale})
    return out


__all__ = [
    "read_safetensors",
    "write_safetensors",
    "SafetensorsError",
    "is_huggingface_checkpoint",
    "resolve_files",
    "hf_to_official",
    "official_to_hf",
    "load_huggingface_checkpoint",
    "post_process_object_detection",
    "reference_model",
    "HFCheckpointError",
    "HFKeyMismatchError",
    "UnknownKeysError",
]
