"""Parameter skeleton of an official Deformable-DETR, named exactly like the official state dict.

It holds weights only: the computation lives in the export segments. Loading is strict: missing and
unexpected keys raise CheckpointKeyError naming them. The variant comes from args and the keys present.
"""

import torchvision
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from ..models.backbone import resnet_layers


class CheckpointKeyError(KeyError):
    def __init__(self, missing, unexpected):
        self.missing, self.unexpected = sorted(missing), sorted(unexpected)
        super().__init__(
            f"checkpoint keys do not match the model: missing {self.missing[:20]}"
            f"{' ...' if len(self.missing) > 20 else ''} ({len(self.missing)}), unexpected "
            f"{self.unexpected[:20]}{' ...' if len(self.unexpected) > 20 else ''} ({len(self.unexpected)})"
        )


class _Holder(nn.Module):
    def __init__(self, **children):
        super().__init__()
        for name, child in children.items():
            setattr(self, name, child)


def resnet_body(name, spec=None):
    """torchvision's resnet `name`, or (spec given: a Hugging Face checkpoint's backbone) the same layout built from
    a models.backbone spec; either way keys conv1, bn1, layer1..4 as features.resnet_stages reads them."""
    if spec is not None:
        conv1, bn1, layers = resnet_layers(spec, FrozenBatchNorm2d)
        return _Holder(conv1=conv1, bn1=bn1, **{f"layer{i + 1}": layer for i, layer in enumerate(layers)})
    net = getattr(torchvision.models, name)(weights=None, norm_layer=FrozenBatchNorm2d)
    del net.avgpool, net.fc
    return net


def mlp(hidden, out, layers):
    return _Holder(
        layers=nn.ModuleList(
            nn.Linear(hidden if i else hidden, hidden if i < layers - 1 else out) for i in range(layers)
        )
    )


def mlp_forward(module, x):
    for i, layer in enumerate(module.layers):
        x = layer(x) if i == len(module.layers) - 1 else nn.functional.relu(layer(x))
    return x


class MLP(nn.Module):
    def __init__(self, hidden, out, layers):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden if i < layers - 1 else out) for i in range(layers))

    def forward(self, x):
        return mlp_forward(self, x)


def msda(d, heads, levels, points):
    return _Holder(
        sampling_offsets=nn.Linear(d, heads * levels * points * 2),
        attention_weights=nn.Linear(d, heads * levels * points),
        value_proj=nn.Linear(d, d),
        output_proj=nn.Linear(d, d),
    )


def detect_deformable_config(state_dict, args, overrides=None):
    """Dims for the segments, from the checkpoint's args, checked against the weight shapes."""
    a = dict(vars(args)) if not isinstance(args, dict) else dict(args)
    keys_two_stage = "transformer.enc_output.weight" in state_dict
    keys_refine = any(k.startswith("transformer.decoder.bbox_embed.") for k in state_dict)
    # An override may name a variant the args forgot, never one the weights contradict.
    conflicts = [
        f"{flag}={overrides[flag]} but the checkpoint has the weights of {flag}"
        for flag, from_keys in (("with_box_refine", keys_refine), ("two_stage", keys_two_stage))
        if overrides and flag in overrides and not overrides[flag] and from_keys
    ]
    if conflicts:
        raise ValueError("variant override contradicts the checkpoint: " + "; ".join(conflicts))
    a.update(overrides or {})
    two_stage = bool(a.get("two_stage", False)) or keys_two_stage
    refine = bool(a.get("with_box_refine", False)) or keys_refine
    hidden = state_dict["transformer.level_embed"].shape[1]
    levels = state_dict["transformer.level_embed"].shape[0]
    heads = int(a.get("nheads", 8))
    enc_points = state_dict["transformer.encoder.layers.0.self_attn.attention_weights.weight"].shape[0] // (
        heads * levels
    )
    dec_points = state_dict["transformer.decoder.layers.0.cross_attn.attention_weights.weight"].shape[0] // (
        heads * levels
    )

    def count(prefix):
        return len({k.split(".")[3] for k in state_dict if k.startswith(prefix)})

    return dict(
        hidden=hidden,
        heads=heads,
        levels=levels,
        enc_points=enc_points,
        dec_points=dec_points,
        encoder_layers=count("transformer.encoder.layers."),
        decoder_layers=count("transformer.decoder.layers."),
        queries=int(a.get("num_queries", 300)),
        box_refine=refine,
        two_stage=two_stage,
        ffn=state_dict["transformer.encoder.layers.0.linear1.weight"].shape[0],
        num_classes=state_dict["class_embed.0.weight"].shape[0],
        backbone=a.get("backbone", "resnet50"),
        bbox_layers=len({k.split(".")[3] for k in state_dict if k.startswith("bbox_embed.0.layers.")}),
    )


def build_deformable_skeleton(dims, state_dict):
    d, heads, levels = dims["hidden"], dims["heads"], dims["levels"]
    body = resnet_body(dims["backbone"], dims.get("backbone_spec"))
    in_proj = []
    for l in range(levels):
        weight = state_dict[f"input_proj.{l}.0.weight"]
        conv = nn.Conv2d(
            weight.shape[1],
            d,
            kernel_size=weight.shape[2],
            stride=1 if weight.shape[2] == 1 else 2,
            padding=0 if weight.shape[2] == 1 else 1,
        )
        in_proj.append(nn.Sequential(conv, nn.GroupNorm(32, d)))
    enc_layers = nn.ModuleList(
        _Holder(
            self_attn=msda(d, heads, levels, dims["enc_points"]),
            norm1=nn.LayerNorm(d),
            linear1=nn.Linear(d, dims["ffn"]),
            linear2=nn.Linear(dims["ffn"], d),
            norm2=nn.LayerNorm(d),
        )
        for _ in range(dims["encoder_layers"])
    )
    dec_layers = nn.ModuleList(
        _Holder(
            cross_attn=msda(d, heads, levels, dims["dec_points"]),
            norm1=nn.LayerNorm(d),
            self_attn=nn.MultiheadAttention(d, heads),
            norm2=nn.LayerNorm(d),
            linear1=nn.Linear(d, dims["ffn"]),
            linear2=nn.Linear(dims["ffn"], d),
            norm3=nn.LayerNorm(d),
        )
        for _ in range(dims["decoder_layers"])
    )
    heads_count = dims["decoder_layers"] + (1 if dims["two_stage"] else 0)
    class_embed = nn.ModuleList(nn.Linear(d, dims["num_classes"]) for _ in range(heads_count))
    bbox_embed = nn.ModuleList(MLP(d, 4, dims["bbox_layers"]) for _ in range(heads_count))
    decoder = _Holder(layers=dec_layers)
    transformer = _Holder(
        encoder=_Holder(layers=enc_layers),
        decoder=decoder,
        level_embed=nn.Parameter(state_dict["transformer.level_embed"].clone()),
    )
    if dims["box_refine"]:
        decoder.bbox_embed = bbox_embed
    if dims["two_stage"]:
        decoder.class_embed = class_embed
        transformer.enc_output, transformer.enc_output_norm = nn.Linear(d, d), nn.LayerNorm(d)
        transformer.pos_trans, transformer.pos_trans_norm = nn.Linear(2 * d, 2 * d), nn.LayerNorm(2 * d)
    else:
        transformer.reference_points = nn.Linear(d, 2)
    model = _Holder(
        backbone=nn.ModuleList([_Holder(body=body)]),
        input_proj=nn.ModuleList(in_proj),
        transformer=transformer,
        class_embed=class_embed,
        bbox_embed=bbox_embed,
    )
    if not dims["two_stage"]:
        model.query_embed = nn.Embedding(dims["queries"], 2 * d)
    return model


def load_strict(model, state_dict):
    expected = set(model.state_dict().keys())
    given = set(state_dict.keys())
    if expected != given:
        raise CheckpointKeyError(expected - given, given - expected)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()
