"""An RT-DETR config read back from an official state dict (what the weights' shapes say), with the official
defaults (rtdetrv2_r50vd.yml / the r18vd configs) for what they cannot say: attention heads, points per level,
the sampling method, query selection, activation functions. Overrides (the exporter's --config JSON) win."""
import re

DEFAULTS = {
    "return_idx": [1, 2, 3],
    "enc_heads": 8,
    "enc_act": "gelu",
    "use_encoder_idx": [2],
    "pe_temperature": 10000,
    "act": "silu",
    "feat_strides": [8, 16, 32],
    "queries": 300,
    "dec_heads": 8,
    "num_points": 4,
    "cross_attn_method": "default",
    "query_select_method": "default",
    "eval_idx": -1,
    "eps": 1e-2,
}


def _count(state_dict, pattern):
    found = {int(m.group(1)) for k in state_dict for m in [re.match(pattern, k)] if m}
    return max(found) + 1 if found else 0


def detect_config(state_dict, overrides=None):
    sd = state_dict
    cfg = dict(DEFAULTS)
    cfg["version"] = "v1" if "encoder.input_proj.0.0.weight" in sd else "v2"
    blocks = [_count(sd, rf"backbone\.res_layers\.{i}\.blocks\.(\d+)\.") for i in range(4)]
    bottleneck = "backbone.res_layers.0.blocks.0.branch2c.conv.weight" in sd
    cfg["depth"] = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 50 if bottleneck else 34, (3, 4, 23, 3): 101}[tuple(blocks)]
    conv = "0.weight" if cfg["version"] == "v1" else "conv.weight"
    levels_in = _count(sd, r"encoder\.input_proj\.(\d+)\.")
    cfg["in_channels"] = [sd[f"encoder.input_proj.{i}.{conv}"].shape[1] for i in range(levels_in)]
    cfg["hidden"] = sd[f"encoder.input_proj.0.{conv}"].shape[0]
    cfg["enc_layers"] = _count(sd, r"encoder\.encoder\.0\.layers\.(\d+)\.")
    cfg["use_encoder_idx"] = cfg["use_encoder_idx"][: _count(sd, r"encoder\.encoder\.(\d+)\.")] or [2]
    if cfg["enc_layers"]:
        cfg["enc_ffn"] = sd["encoder.encoder.0.layers.0.linear1.weight"].shape[0]
    else:
        cfg["enc_ffn"] = 1024
    cfg["depth_mult"] = _count(sd, r"encoder\.fpn_blocks\.0\.bottlenecks\.(\d+)\.") / 3
    cfg["expansion"] = sd["encoder.fpn_blocks.0.conv1.conv.weight"].shape[0] / cfg["hidden"]
    cfg["num_levels"] = _count(sd, r"decoder\.input_proj\.(\d+)\.")
    cfg["dec_layers"] = _count(sd, r"decoder\.decoder\.layers\.(\d+)\.")
    cfg["dec_ffn"] = sd["decoder.decoder.layers.0.linear1.weight"].shape[0]
    cfg["num_classes"] = sd["decoder.dec_score_head.0.weight"].shape[0]
    cfg["learn_query_content"] = "decoder.tgt_embed.weight" in sd
    if cfg["learn_query_content"]:
        cfg["queries"] = sd["decoder.tgt_embed.weight"].shape[0]
    if sd["decoder.enc_score_head.weight"].shape[0] == 1 and cfg["num_classes"] != 1:
        cfg["query_select_method"] = "agnostic"
    cfg["num_denoising"] = 100 if "decoder.denoising_class_embed.weight" in sd else 0
    cfg.update(overrides or {})
    if isinstance(cfg["num_points"], int):
        cfg["num_points"] = [cfg["num_points"]] * cfg["num_levels"]
    cfg["num_points"] = list(cfg["num_points"])
    total = sd["decoder.decoder.layers.0.cross_attn.attention_weights.weight"].shape[0]
    if total != cfg["dec_heads"] * sum(cfg["num_points"]):
        raise ValueError(
            f"the decoder's attention_weights has {total} rows, not heads {cfg['dec_heads']} x points "
            f"{cfg['num_points']}: pass dec_heads / num_points in --config"
        )
    if cfg["version"] == "v1" and (len(set(cfg["num_points"])) > 1 or cfg["cross_attn_method"] != "default"):
        raise ValueError("RT-DETR v1 has one point count for every level and bilinear sampling only")
    return cfg
