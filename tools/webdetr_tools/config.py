"""Model configuration read from an official checkpoint's args and state-dict keys.

API: ModelConfig (dataclass), config_from_checkpoint(state_dict, args, overrides=None) -> ModelConfig.
Whatever the keys determine (layer counts, widths, levels, points, classes, variant flags, backbone depth)
comes from the keys; args must agree with it or a ValueError lists every disagreement. What the keys
cannot tell (nheads, dilation, num_patches, the two-stage query count) comes from args, else defaults.
`overrides` replace args entries before the check.

num_classes follows each official code base: Deformable-DETR's class_embed has num_classes outputs
(sigmoid), DETR/UP-DETR's has num_classes + 1 (softmax, last = no-object). `num_logits` is the width.
"""
import re
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelConfig:
    family: str  # 'deformable-detr' | 'up-detr'
    variant: str  # deformable: 'plain' | 'refine' | 'two-stage'; up-detr: 'pretrain' | 'detection'
    hidden_dim: int = 256
    nheads: int = 8
    enc_layers: int = 6
    dec_layers: int = 6
    dim_feedforward: int = 1024
    num_queries: int = 300
    num_feature_levels: int = 4
    enc_n_points: int = 4
    dec_n_points: int = 4
    num_classes: int = 91
    pre_norm: bool = False
    num_patches: int = 10
    feature_recon: bool = False
    backbone: str = "resnet50"
    dilation: bool = False
    with_box_refine: bool = False
    two_stage: bool = False

    @property
    def num_logits(self) -> int:
        return self.num_classes if self.family == "deformable-detr" else self.num_classes + 1

    @property
    def single_scale(self) -> bool:
        return self.family == "deformable-detr" and self.num_feature_levels == 1

    def to_dict(self) -> dict:
        return asdict(self)


_RESNET_BY_LAYER3_BLOCKS = {6: "resnet50", 23: "resnet101"}


def _count(keys, pattern: str) -> int:
    found = {int(m.group(1)) for k in keys for m in [re.match(pattern, k)] if m}
    return len(found)


def _shape(state_dict, key):
    if key not in state_dict:
        raise ValueError(f"state dict lacks the key {key!r} needed to read the model configuration")
    return tuple(state_dict[key].shape)


def _backbone_name(state_dict) -> str:
    blocks = _count(state_dict, r"backbone\.0\.body\.layer3\.(\d+)\.")
    if blocks not in _RESNET_BY_LAYER3_BLOCKS:
        raise ValueError(f"unsupported backbone: layer3 has {blocks} blocks (resnet50: 6, resnet101: 23)")
    return _RESNET_BY_LAYER3_BLOCKS[blocks]


def _deformable_from_keys(sd, args) -> dict:
    levels, hidden = _shape(sd, "transformer.level_embed")
    heads = int(args.get("nheads", 8))
    two_stage = "transformer.enc_output.weight" in sd
    refine = "transformer.decoder.bbox_embed.0.layers.0.weight" in sd
    enc_w = _shape(sd, "transformer.encoder.layers.0.self_attn.attention_weights.weight")[0]
    dec_w = _shape(sd, "transformer.decoder.layers.0.cross_attn.attention_weights.weight")[0]
    if enc_w % (heads * levels) or dec_w % (heads * levels):
        raise ValueError(
            f"attention_weights widths {enc_w}/{dec_w} are not multiples of nheads*levels "
            f"= {heads}*{levels}; wrong nheads in args?"
        )
    queries = _shape(sd, "query_embed.weight")[0] if not two_stage else int(args.get("num_queries", 300))
    return dict(
        family="deformable-detr",
        variant="two-stage" if two_stage else ("refine" if refine else "plain"),
        hidden_dim=hidden,
        nheads=heads,
        enc_layers=_count(sd, r"transformer\.encoder\.layers\.(\d+)\."),
        dec_layers=_count(sd, r"transformer\.decoder\.layers\.(\d+)\."),
        dim_feedforward=_shape(sd, "transformer.encoder.layers.0.linear1.weight")[0],
        num_queries=queries,
        num_feature_levels=levels,
        enc_n_points=enc_w // (heads * levels),
        dec_n_points=dec_w // (heads * levels),
        num_classes=_shape(sd, "class_embed.0.weight")[0],
        pre_norm=False,
        num_patches=int(args.get("num_patches", 10)),
        feature_recon=False,
        backbone=_backbone_name(sd),
        dilation=bool(args.get("dilation", False)),
        with_box_refine=refine,
        two_stage=two_stage,
    )


def _updetr_from_keys(sd, args) -> dict:
    pretrain = "patch2query.weight" in sd
    return dict(
        family="up-detr",
        variant="pretrain" if pretrain else "detection",
        hidden_dim=_shape(sd, "input_proj.weight")[0],
        nheads=int(args.get("nheads", 8)),
        enc_layers=_count(sd, r"transformer\.encoder\.layers\.(\d+)\."),
        dec_layers=_count(sd, r"transformer\.decoder\.layers\.(\d+)\."),
        dim_feedforward=_shape(sd, "transformer.encoder.layers.0.linear1.weight")[0],
        num_queries=_shape(sd, "query_embed.weight")[0],
        num_feature_levels=1,
        enc_n_points=0,
        dec_n_points=0,
        num_classes=_shape(sd, "class_embed.weight")[0] - 1,
        pre_norm="transformer.encoder.norm.weight" in sd,
        num_patches=int(args.get("num_patches", 10)) if pretrain else 0,
        feature_recon="feature_align.layers.0.weight" in sd,
        backbone=_backbone_name(sd),
        dilation=bool(args.get("dilation", False)),
        with_box_refine=False,
        two_stage=False,
    )


# args entries that must agree with what the keys say (only checked when args has them)
_CHECKED_ARGS = (
    "hidden_dim",
    "enc_layers",
    "dec_layers",
    "dim_feedforward",
    "num_queries",
    "num_feature_levels",
    "enc_n_points",
    "dec_n_points",
    "pre_norm",
    "feature_recon",
    "backbone",
    "with_box_refine",
    "two_stage",
)


def config_from_checkpoint(state_dict: dict, args: dict, overrides: dict = None) -> ModelConfig:
    args = dict(args or {})
    args.update(overrides or {})
    if "transformer.level_embed" in state_dict:
        fields = _deformable_from_keys(state_dict, args)
        skip = {"pre_norm", "feature_recon"}
    elif "transformer.decoder.layers.0.multihead_attn.in_proj_weight" in state_dict:
        fields = _updetr_from_keys(state_dict, args)
        skip = {"num_feature_levels", "enc_n_points", "dec_n_points", "with_box_refine", "two_stage"}
    else:
        raise ValueError(
            "state dict is neither Deformable-DETR (transformer.level_embed) nor DETR/UP-DETR "
            "(transformer.decoder.layers.0.multihead_attn.*)"
        )
    if (
        fields["family"] == "up-detr"
        and fields["variant"] == "pretrain"
        and fields["num_queries"] % fields["num_patches"]
    ):
        raise ValueError(
            f"num_queries {fields['num_queries']} is not a multiple of num_patches {fields['num_patches']}"
        )
    if fields["family"] == "deformable-detr" and fields["num_feature_levels"] == 2:
        raise ValueError("num_feature_levels 2 is not a working official configuration (use 1 or >= 3)")
    problems = []
    for name in _CHECKED_ARGS:
        if name in skip or name not in args or args[name] is None:
            continue
        given, found = args[name], fields[name]
        if isinstance(found, bool):
            given = bool(given)
        if given != found:
            problems.append(f"{name}: args say {args[name]!r}, state-dict keys say {found!r}")
    if problems:
        raise ValueError("checkpoint args disagree with its state dict: " + "; ".join(problems))
    return ModelConfig(**fields)
