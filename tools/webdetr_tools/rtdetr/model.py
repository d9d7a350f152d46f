"""RT-DETR v1 / v2 at inference, written from the official formulas (lyuwenyu/RT-DETR rtdetr_pytorch and
rtdetrv2_pytorch) with the official parameter names, so official checkpoints load strictly: PResNet-vd backbone,
HybridEncoder (AIFI + CCFM), RTDETRTransformer(v2) decoder (query selection, deformable cross-attention).
No training parts (denoising, auxiliary outputs). The decoder's deformable core is `core` (deformable_core
below: the official deformable_attention_core_func_v2 formula), replaced by our kernel at run time.

Config keys (see config.py): version, depth, return_idx, in_channels, hidden, enc_heads, enc_ffn, enc_act,
use_encoder_idx, enc_layers, pe_temperature, expansion, depth_mult, act, feat_strides, num_levels,
dec_layers, queries, dec_heads, dec_ffn, num_points (list per level), cross_attn_method, query_select_method,
learn_query_content, eval_idx, num_classes, eps, eval_size (H, W).
"""
import copy
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def activation(name):
    return {
        None: nn.Identity,
        "relu": nn.ReLU,
        "silu": nn.SiLU,
        "gelu": nn.GELU,
        "leaky_relu": nn.LeakyReLU,
        "hardsigmoid": nn.Hardsigmoid,
    }[name]()


def inverse_sigmoid(x, eps=1e-5):
    x = x.clip(min=0.0, max=1.0)
    return torch.log(x.clip(min=eps) / (1 - x).clip(min=eps))


class ConvNormLayer(nn.Module):
    def __init__(self, ch_in, ch_out, kernel_size, stride, padding=None, act=None):
        super().__init__()
        padding = (kernel_size - 1) // 2 if padding is None else padding
        self.conv = nn.Conv2d(ch_in, ch_out, kernel_size, stride, padding=padding, bias=False)
        self.norm = nn.BatchNorm2d(ch_out)
        self.act = activation(act)

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


# --- backbone: PResNet, variant d ---------------------------------------------------------------------------


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, ch_in, ch_out, stride, shortcut, act="relu"):
        super().__init__()
        self.shortcut = shortcut
        if not shortcut:
            self.short = _vd_short(ch_in, ch_out, stride)
        self.branch2a = ConvNormLayer(ch_in, ch_out, 3, stride, act=act)
        self.branch2b = ConvNormLayer(ch_out, ch_out, 3, 1)
        self.act = activation(act)

    def forward(self, x):
        out = self.branch2b(self.branch2a(x))
        return self.act(out + (x if self.shortcut else self.short(x)))


class BottleNeck(nn.Module):
    expansion = 4

    def __init__(self, ch_in, ch_out, stride, shortcut, act="relu"):
        super().__init__()
        self.branch2a = ConvNormLayer(ch_in, ch_out, 1, 1, act=act)
        self.branch2b = ConvNormLayer(ch_out, ch_out, 3, stride, act=act)
        self.branch2c = ConvNormLayer(ch_out, ch_out * 4, 1, 1)
        self.shortcut = shortcut
        if not shortcut:
            self.short = _vd_short(ch_in, ch_out * 4, stride)
        self.act = activation(act)

    def forward(self, x):
        out = self.branch2c(self.branch2b(self.branch2a(x)))
        return self.act(out + (x if self.shortcut else self.short(x)))


def _vd_short(ch_in, ch_out, stride):
    # ResNet-vd: a stride-2 shortcut average-pools, then projects
    if stride == 2:
        return nn.Sequential(
            OrderedDict([("pool", nn.AvgPool2d(2, 2, 0, ceil_mode=True)), ("conv", ConvNormLayer(ch_in, ch_out, 1, 1))])
        )
    return ConvNormLayer(ch_in, ch_out, 1, stride)


class Blocks(nn.Module):
    def __init__(self, block, ch_in, ch_out, count, stage_num, act="relu"):
        super().__init__()
        self.blocks = nn.ModuleList()
        for i in range(count):
            stride = 2 if i == 0 and stage_num != 2 else 1
            self.blocks.append(block(ch_in, ch_out, stride, shortcut=i != 0, act=act))
            if i == 0:
                ch_in = ch_out * block.expansion

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


RESNET_BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}


class PResNet(nn.Module):
    def __init__(self, depth, return_idx=(1, 2, 3), act="relu"):
        super().__init__()
        conv_def = [[3, 32, 3, 2, "conv1_1"], [32, 32, 3, 1, "conv1_2"], [32, 64, 3, 1, "conv1_3"]]
        self.conv1 = nn.Sequential(
            OrderedDict([(name, ConvNormLayer(cin, cout, k, s, act=act)) for cin, cout, k, s, name in conv_def])
        )
        block = BottleNeck if depth >= 50 else BasicBlock
        ch_in, widths = 64, [64, 128, 256, 512]
        self.res_layers = nn.ModuleList()
        for i, count in enumerate(RESNET_BLOCKS[depth]):
            self.res_layers.append(Blocks(block, ch_in, widths[i], count, i + 2, act=act))
            ch_in = widths[i] * block.expansion
        self.return_idx = list(return_idx)
        self.out_channels = [widths[i] * block.expansion for i in self.return_idx]

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), kernel_size=3, stride=2, padding=1)
        outs = []
        for idx, stage in enumerate(self.res_layers):
            x = stage(x)
            if idx in self.return_idx:
                outs.append(x)
        return outs


# --- hybrid encoder ------------------------------------------------------------------------------------------


class RepVggBlock(nn.Module):
    def __init__(self, ch_in, ch_out, act="relu"):
        super().__init__()
        self.conv1 = ConvNormLayer(ch_in, ch_out, 3, 1, padding=1)
        self.conv2 = ConvNormLayer(ch_in, ch_out, 1, 1, padding=0)
        self.act = activation(act)

    def forward(self, x):
        return self.act(self.conv1(x) + self.conv2(x))


class CSPRepLayer(nn.Module):
    def __init__(self, in_channels, out_channels, num_blocks=3, expansion=1.0, act="silu"):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = ConvNormLayer(in_channels, hidden, 1, 1, act=act)
        self.conv2 = ConvNormLayer(in_channels, hidden, 1, 1, act=act)
        self.bottlenecks = nn.Sequential(*[RepVggBlock(hidden, hidden, act=act) for _ in range(num_blocks)])
        self.conv3 = ConvNormLayer(hidden, out_channels, 1, 1, act=act) if hidden != out_channels else nn.Identity()

    def forward(self, x):
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


class TransformerEncoderLayer(nn.Module):
    """Post-norm (the official default, normalize_before=False)."""

    def __init__(self, d_model, nhead, dim_feedforward, act):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, 0.0, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.activation = activation(act)

    def forward(self, src, pos_embed):
        q = k = src + pos_embed
        src = self.norm1(src + self.self_attn(q, k, value=src, need_weights=False)[0])
        return self.norm2(src + self.linear2(self.activation(self.linear1(src))))


class TransformerEncoder(nn.Module):
    def __init__(self, layer, num_layers):
        super().__init__()
        self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])

    def forward(self, src, pos_embed):
        for layer in self.layers:
            src = layer(src, pos_embed)
        return src


def sincos_position_embedding(w, h, embed_dim=256, temperature=10000.0):
    """build_2d_sincos_position_embedding: [1, w*h, C] in (w-major) meshgrid order, as the official code."""
    grid_w, grid_h = torch.meshgrid(
        torch.arange(int(w), dtype=torch.float32), torch.arange(int(h), dtype=torch.float32), indexing="ij"
    )
    pos_dim = embed_dim // 4
    omega = 1.0 / (temperature ** (torch.arange(pos_dim, dtype=torch.float32) / pos_dim))
    out_w = grid_w.flatten()[..., None] @ omega[None]
    out_h = grid_h.flatten()[..., None] @ omega[None]
    return torch.concat([out_w.sin(), out_w.cos(), out_h.sin(), out_h.cos()], dim=1)[None, :, :]


def _proj(version, ch_in, hidden, kernel=1, stride=1, padding=0):
    conv = nn.Conv2d(ch_in, hidden, kernel, stride, padding=padding, bias=False)
    if version == "v1-encoder":  # the v1 HybridEncoder's projections are unnamed Sequentials
        return nn.Sequential(conv, nn.BatchNorm2d(hidden))
    return nn.Sequential(OrderedDict([("conv", conv), ("norm", nn.BatchNorm2d(hidden))]))


class HybridEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hidden, n = cfg["hidden"], len(cfg["in_channels"])
        self.cfg = cfg
        version = "v1-encoder" if cfg["version"] == "v1" else "v2"
        self.input_proj = nn.ModuleList([_proj(version, c, hidden) for c in cfg["in_channels"]])
        layer = TransformerEncoderLayer(hidden, cfg["enc_heads"], cfg["enc_ffn"], cfg["enc_act"])
        self.encoder = nn.ModuleList(
            [TransformerEncoder(copy.deepcopy(layer), cfg["enc_layers"]) for _ in cfg["use_encoder_idx"]]
        )
        blocks, act, expansion = round(3 * cfg["depth_mult"]), cfg["act"], cfg["expansion"]
        self.lateral_convs = nn.ModuleList([ConvNormLayer(hidden, hidden, 1, 1, act=act) for _ in range(n - 1)])
        self.fpn_blocks = nn.ModuleList([CSPRepLayer(hidden * 2, hidden, blocks, expansion, act) for _ in range(n - 1)])
        self.downsample_convs = nn.ModuleList([ConvNormLayer(hidden, hidden, 3, 2, act=act) for _ in range(n - 1)])
        self.pan_blocks = nn.ModuleList([CSPRepLayer(hidden * 2, hidden, blocks, expansion, act) for _ in range(n - 1)])

    def forward(self, feats):
        cfg, n = self.cfg, len(self.input_proj)
        proj = [self.input_proj[i](f) for i, f in enumerate(feats)]
        if cfg["enc_layers"] > 0:
            for i, idx in enumerate(cfg["use_encoder_idx"]):
                h, w = proj[idx].shape[2:]
                src = proj[idx].flatten(2).permute(0, 2, 1)
                pos = sincos_position_embedding(w, h, cfg["hidden"], cfg["pe_temperature"])
                memory = self.encoder[i](src, pos)
                proj[idx] = memory.permute(0, 2, 1).reshape(-1, cfg["hidden"], h, w).contiguous()
        inner = [proj[-1]]
        for idx in range(n - 1, 0, -1):
            high = self.lateral_convs[n - 1 - idx](inner[0])
            inner[0] = high
            up = F.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.fpn_blocks[n - 1 - idx](torch.concat([up, proj[idx - 1]], dim=1)))
        outs = [inner[0]]
        for idx in range(n - 1):
            down = self.downsample_convs[idx](outs[-1])
            outs.append(self.pan_blocks[idx](torch.concat([down, inner[idx + 1]], dim=1)))
        return outs


# --- decoder -------------------------------------------------------------------------------------------------


class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers):
        super().__init__()
        h = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + h, h + [output_dim]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < len(self.layers) - 1 else layer(x)
        return x


def deformable_core(value, level_shapes, locations, weights, num_points, method="default"):
    """deformable_attention_core_func_v2: value [N,S,M,D], locations [N,Lq,M,S_P,2], weights [N,Lq,M,S_P]."""
    n, _, m, d = value.shape
    lq = locations.shape[1]
    value_list = value.permute(0, 2, 3, 1).flatten(0, 1).split([h * w for h, w in level_shapes], dim=-1)
    grids = (2 * locations - 1 if method == "default" else locations).permute(0, 2, 1, 3, 4).flatten(0, 1)
    grid_list = grids.split(list(num_points), dim=-2)
    sampled = []
    for level, (h, w) in enumerate(level_shapes):
        value_l = value_list[level].reshape(n * m, d, h, w)
        if method == "default":
            sampled.append(
                F.grid_sample(value_l, grid_list[level], mode="bilinear", padding_mode="zeros", align_corners=False)
            )
        else:
            coord = (grid_list[level] * torch.tensor([[w, h]]) + 0.5).to(torch.int64).clamp(0, h - 1)
            coord = coord.reshape(n * m, lq * num_points[level], 2)
            rows = torch.arange(coord.shape[0]).unsqueeze(-1).repeat(1, coord.shape[1])
            s = value_l[rows, :, coord[..., 1], coord[..., 0]]
            sampled.append(s.permute(0, 2, 1).reshape(n * m, d, lq, num_points[level]))
    attn = weights.permute(0, 2, 1, 3).reshape(n * m, 1, lq, sum(num_points))
    out = (torch.concat(sampled, dim=-1) * attn).sum(-1).reshape(n, m * d, lq)
    return out.permute(0, 2, 1)


class MSDeformableAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, num_points, method="default", offset_scale=0.5, version="v2"):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.num_points_list = list(num_points)
        if version == "v2":  # a persistent buffer in v2 checkpoints
            scale = [1 / n for n in self.num_points_list for _ in range(n)]
            self.register_buffer("num_points_scale", torch.tensor(scale, dtype=torch.float32))
        self.method, self.offset_scale = method, offset_scale
        total = num_heads * sum(self.num_points_list)
        self.sampling_offsets = nn.Linear(embed_dim, total * 2)
        self.attention_weights = nn.Linear(embed_dim, total)
        self.value_proj = nn.Linear(embed_dim, embed_dim)
        self.output_proj = nn.Linear(embed_dim, embed_dim)

    def projections(self, query, memory):
        """value [N,S,M,D] (None without memory), raw offsets [N,Lq,M,S_P,2], raw logits [N,Lq,M,S_P]."""
        n, lq = query.shape[:2]
        samples = sum(self.num_points_list)
        offsets = self.sampling_offsets(query).reshape(n, lq, self.num_heads, samples, 2)
        logits = self.attention_weights(query).reshape(n, lq, self.num_heads, samples)
        value = None
        if memory is not None:
            value = self.value_proj(memory).reshape(n, memory.shape[1], self.num_heads, self.head_dim)
        return value, offsets, logits

    def locations(self, reference, offsets, level_shapes):
        """reference [N,Lq,1 or L,4 or 2] -> [N,Lq,M,S_P,2], as MSDeformableAttention.forward (v1 and v2)."""
        level_of = [lvl for lvl, p in enumerate(self.num_points_list) for _ in range(p)]
        ref = reference[:, :, [0 if reference.shape[2] == 1 else lvl for lvl in level_of]]  # [N,Lq,S_P,R]
        if reference.shape[-1] == 2:
            normalizer = torch.tensor([[level_shapes[lvl][1], level_shapes[lvl][0]] for lvl in level_of])
            return ref[:, :, None] + offsets / normalizer.to(offsets.dtype)
        if hasattr(self, "num_points_scale"):  # v2: offsets * (1 / P_l) * wh * offset_scale
            scale = self.num_points_scale.to(offsets.dtype)[:, None]
            return ref[:, :, None, :, :2] + offsets * scale * ref[:, :, None, :, 2:] * self.offset_scale
        # v1: offsets / P * wh * 0.5
        points = torch.tensor([self.num_points_list[lvl] for lvl in level_of], dtype=offsets.dtype)[:, None]
        return ref[:, :, None, :, :2] + offsets / points * ref[:, :, None, :, 2:] * 0.5

    def core(self, value, reference, offsets, logits, level_shapes):
        weights = F.softmax(logits, dim=-1)
        locations = self.locations(reference, offsets, level_shapes)
        return deformable_core(value, level_shapes, locations, weights, self.num_points_list, self.method)


class TransformerDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden"]
        self.self_attn = nn.MultiheadAttention(d, cfg["dec_heads"], dropout=0.0, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.cross_attn = MSDeformableAttention(
            d, cfg["dec_heads"], cfg["num_points"], cfg["cross_attn_method"], version=cfg["version"]
        )
        self.norm2 = nn.LayerNorm(d)
        self.linear1 = nn.Linear(d, cfg["dec_ffn"])
        self.linear2 = nn.Linear(cfg["dec_ffn"], d)
        self.norm3 = nn.LayerNorm(d)
        self.clamp_fp16 = cfg["version"] == "v1"  # v1 clamps to the float16 range before norm3

    def self_attention(self, target, query_pos):
        q = k = target + query_pos
        return self.norm1(target + self.self_attn(q, k, value=target, need_weights=False)[0])

    def finish(self, target, cross):
        target = self.norm2(target + self.cross_attn.output_proj(cross))
        target = target + self.linear2(F.relu(self.linear1(target)))
        if self.clamp_fp16:
            target = target.clamp(min=-65504, max=65504)
        return self.norm3(target)


class TransformerDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([TransformerDecoderLayer(cfg) for _ in range(cfg["dec_layers"])])


def generate_anchors(level_shapes, eps=1e-2, grid_size=0.05):
    anchors = []
    for lvl, (h, w) in enumerate(level_shapes):
        grid_y, grid_x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        grid_xy = (torch.stack([grid_x, grid_y], dim=-1).unsqueeze(0) + 0.5) / torch.tensor([w, h], dtype=torch.float32)
        wh = torch.ones_like(grid_xy) * grid_size * (2.0**lvl)
        anchors.append(torch.concat([grid_xy, wh], dim=-1).reshape(-1, h * w, 4))
    anchors = torch.concat(anchors, dim=1)
    valid_mask = ((anchors > eps) * (anchors < 1 - eps)).all(-1, keepdim=True)
    anchors = torch.log(anchors / (1 - anchors))
    return torch.where(valid_mask, anchors, torch.inf), valid_mask


class RTDETRTransformer(nn.Module):
    """The decoder side: input projections, query selection, decoder layers, heads (no denoising)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        hidden = cfg["hidden"]
        self.input_proj = nn.ModuleList([_proj("v2", hidden, hidden) for _ in cfg["in_channels"]])
        for _ in range(cfg["num_levels"] - len(cfg["in_channels"])):
            self.input_proj.append(_proj("v2", hidden, hidden, 3, 2, 1))
        self.decoder = TransformerDecoder(cfg)
        if cfg["learn_query_content"]:
            self.tgt_embed = nn.Embedding(cfg["queries"], hidden)
        self.query_pos_head = MLP(4, 2 * hidden, hidden, 2)
        if cfg["version"] == "v1":
            self.enc_output = nn.Sequential(nn.Linear(hidden, hidden), nn.LayerNorm(hidden))
        else:
            self.enc_output = nn.Sequential(
                OrderedDict([("proj", nn.Linear(hidden, hidden)), ("norm", nn.LayerNorm(hidden))])
            )
        score_dim = 1 if cfg["query_select_method"] == "agnostic" else cfg["num_classes"]
        self.enc_score_head = nn.Linear(hidden, score_dim)
        self.enc_bbox_head = MLP(hidden, hidden, 4, 3)
        self.dec_score_head = nn.ModuleList([nn.Linear(hidden, cfg["num_classes"]) for _ in range(cfg["dec_layers"])])
        self.dec_bbox_head = nn.ModuleList([MLP(hidden, hidden, 4, 3) for _ in range(cfg["dec_layers"])])
        if cfg.get("num_denoising", 0) > 0:  # training-only, kept so the checkpoint loads strictly
            self.denoising_class_embed = nn.Embedding(cfg["num_classes"] + 1, hidden, padding_idx=cfg["num_classes"])

    def memory(self, feats):
        """Projected levels flattened: memory [N, S, C] and the level shapes."""
        proj = [self.input_proj[i](f) for i, f in enumerate(feats)]
        for i in range(len(proj), self.cfg["num_levels"]):
            proj.append(self.input_proj[i](feats[-1] if i == len(feats) else proj[-1]))
        shapes = [tuple(int(v) for v in p.shape[2:]) for p in proj]
        return torch.concat([p.flatten(2).permute(0, 2, 1) for p in proj], 1), shapes

    def select_queries(self, memory, level_shapes):
        """Query selection: target [N,Q,C], reference boxes (inverse sigmoid) [N,Q,4]."""
        cfg = self.cfg
        anchors, valid_mask = generate_anchors(level_shapes, cfg["eps"])
        memory = valid_mask.to(memory.dtype) * memory
        output_memory = self.enc_output(memory)
        logits = self.enc_score_head(output_memory)
        coords = self.enc_bbox_head(output_memory) + anchors
        method = cfg["query_select_method"]
        if method == "one2many":
            topk_ind = torch.topk(logits.flatten(1), cfg["queries"], dim=-1)[1] // cfg["num_classes"]
        elif method == "agnostic":
            topk_ind = torch.topk(logits.squeeze(-1), cfg["queries"], dim=-1)[1]
        else:
            topk_ind = torch.topk(logits.max(-1).values, cfg["queries"], dim=-1)[1]
        ref_unact = coords.gather(1, topk_ind.unsqueeze(-1).repeat(1, 1, 4))
        if cfg["learn_query_content"]:
            target = self.tgt_embed.weight.unsqueeze(0).tile([memory.shape[0], 1, 1])
        else:
            target = output_memory.gather(1, topk_ind.unsqueeze(-1).repeat(1, 1, output_memory.shape[-1]))
        return target, ref_unact


class RTDETR(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.backbone = PResNet(cfg["depth"], cfg["return_idx"])
        self.encoder = HybridEncoder(cfg)
        self.decoder = RTDETRTransformer(cfg)

    def forward(self, image):
        """Whole model in PyTorch (our formulas): pred_logits [N,Q,K], pred_boxes [N,Q,4] (cxcywh, 0..1)."""
        dec = self.decoder
        memory, shapes = dec.memory(self.encoder(self.backbone(image)))
        target, ref_unact = dec.select_queries(memory, shapes)
        ref = ref_unact.sigmoid()
        last = self.cfg["eval_idx"] % self.cfg["dec_layers"]
        for i, layer in enumerate(dec.decoder.layers):
            query_pos = dec.query_pos_head(ref)
            target = layer.self_attention(target, query_pos)
            attn = layer.cross_attn
            value, offsets, logits = attn.projections(target + query_pos, memory)
            target = layer.finish(target, attn.core(value, ref[:, :, None], offsets, logits, shapes))
            box = torch.sigmoid(dec.dec_bbox_head[i](target) + inverse_sigmoid(ref))
            if i == last:
                return dec.dec_score_head[i](target), box
            ref = box
        raise AssertionError("eval_idx past the last layer")


__all__ = ["RTDETR", "deformable_core", "generate_anchors", "inverse_sigmoid", "sincos_position_embedding"]
