"""Deformable-DETR cut into graph segments at every deformable-attention core call.

Each segment finishes the layer whose core just ran (output_proj + residual + norm + FFN + norm) and
starts the next one (value projection, raw sampling offsets, raw attention logits), so a frame runs
encoder_layers + decoder_layers + 1 graphs and encoder_layers + decoder_layers kernel calls. The decoder
value projections of the encoder memory, for every decoder layer, are computed in one segment.

With dims["dynamic"] (a shorter-side size policy) nothing depends on the export size: the encoder's reference
points, position embeddings and two-stage proposals are computed from the feature maps' own shapes, the
kernel calls take their level shapes from the image at run time (LevelRule), and the graphs are exported
with dynamic height / width / token axes.

Segments read the model's submodules by their official names (transformer.encoder.layers[k].self_attn.
value_proj, ...), which strict loading of the official state dict guarantees.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .plan import KernelCall, LevelRule, Pipeline, Plan, Segment


def inverse_sigmoid(x, eps=1e-5):
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def attention_projections(attn, query, input_flatten, dims, n_points):
    """value [N,S,M,D] (None when input_flatten is None), raw offsets [N,Lq,M,L,P,2], raw logits [N,Lq,M,L*P]."""
    n, lq, _ = query.shape
    heads, levels = dims["heads"], dims["levels"]
    offsets = attn.sampling_offsets(query).view(n, lq, heads, levels, n_points, 2)
    logits = attn.attention_weights(query).view(n, lq, heads, levels * n_points)
    value = None
    if input_flatten is not None:
        value = attn.value_proj(input_flatten).view(n, input_flatten.shape[1], heads, dims["hidden"] // heads)
    return value, offsets, logits


def finish_encoder_layer(layer, src, core):
    src = layer.norm1(src + layer.self_attn.output_proj(core))
    return layer.norm2(src + layer.linear2(F.relu(layer.linear1(src))))


def finish_decoder_layer(layer, tgt, core):
    tgt = layer.norm1(tgt + layer.cross_attn.output_proj(core))
    return layer.norm3(tgt + layer.linear2(F.relu(layer.linear1(tgt))))


def decoder_self_attention(layer, tgt, query_pos):
    q = tgt + query_pos
    out = layer.self_attn(q.transpose(0, 1), q.transpose(0, 1), tgt.transpose(0, 1))[0].transpose(0, 1)
    return layer.norm2(tgt + out)


def expand_reference(reference, levels):
    """[N, Q, R] -> [N, Q, L, R]; valid ratios are 1 (fixed input size, no padding)."""
    return reference[:, :, None].expand(-1, -1, levels, -1).contiguous()


def refine_reference(bbox_embed, hs, reference):
    tmp = bbox_embed(hs)
    if reference.shape[-1] == 4:
        return (tmp + inverse_sigmoid(reference)).sigmoid()
    return torch.cat([tmp[..., :2] + inverse_sigmoid(reference), tmp[..., 2:]], -1).sigmoid()


def encoder_reference_points(level_shapes):
    """Pixel centres (i + 0.5) / H_l, (j + 0.5) / W_l of every level, for every level: [1, S, L, 2]."""
    points = []
    for h, w in level_shapes:
        ys, xs = torch.meshgrid(
            torch.arange(h, dtype=torch.float32) + 0.5, torch.arange(w, dtype=torch.float32) + 0.5, indexing="ij"
        )
        points.append(torch.stack([xs.reshape(-1) / w, ys.reshape(-1) / h], -1))
    return torch.cat(points, 0)[None, :, None].expand(-1, -1, len(level_shapes), -1).contiguous()


def dynamic_level_grids(srcs):
    """Per level: pixel centres x = (j + 0.5) / W_l, y = (i + 0.5) / H_l as [1, H_l*W_l, 2], from the feature map's
    own shape (cumsum of ones: exact integers, so equal to the fixed-size constants to float32 rounding)."""
    grids = []
    for src in srcs:
        ones = torch.ones_like(src[:1, 0])  # [1, H, W]
        ys, xs = ones.cumsum(1), ones.cumsum(2)
        x = (xs - 0.5) / xs[:, :, -1:]
        y = (ys - 0.5) / ys[:, -1:, :]
        grids.append(torch.stack([x.flatten(1), y.flatten(1)], -1))
    return grids


def dynamic_encoder_reference_points(srcs):
    """encoder_reference_points for the feature maps' own shapes: [1, S, L, 2]."""
    points = torch.cat(dynamic_level_grids(srcs), 1)
    return points[:, :, None].expand(-1, -1, len(srcs), -1).contiguous()


def dynamic_encoder_output_proposals(srcs):
    """encoder_output_proposals for the feature maps' own shapes; validity as float32 (the runtime passes float32)."""
    proposals = []
    for level, grid in enumerate(dynamic_level_grids(srcs)):
        proposals.append(torch.cat([grid, torch.ones_like(grid) * (0.05 * (2.0**level))], -1))
    proposals = torch.cat(proposals, 1)
    valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1, keepdim=True)
    proposals = torch.log(proposals / (1 - proposals)).masked_fill(~valid, float("inf"))
    return proposals, valid.float()


def encoder_output_proposals(level_shapes):
    """Two-stage proposals (inverse-sigmoid boxes, +inf where invalid) [1,S,4] and validity [1,S,1]."""
    proposals = []
    for level, (h, w) in enumerate(level_shapes):
        ys, xs = torch.meshgrid(
            torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
        )
        grid = torch.stack([(xs + 0.5) / w, (ys + 0.5) / h], -1).view(-1, 2)
        proposals.append(torch.cat([grid, torch.full_like(grid, 0.05 * (2.0**level))], -1))
    proposals = torch.cat(proposals, 0)[None]
    valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1, keepdim=True)
    proposals = torch.log(proposals / (1 - proposals)).masked_fill(~valid, float("inf"))
    return proposals, valid


def proposal_pos_embed(proposals, num_pos_feats=128, temperature=10000):
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_pos_feats)
    pos = proposals.sigmoid()[:, :, :, None] * (2 * math.pi) / dim_t
    return torch.stack((pos[:, :, :, 0::2].sin(), pos[:, :, :, 1::2].cos()), dim=4).flatten(2)


class EncoderInput(nn.Module):
    def __init__(self, model, dims, features):
        super().__init__()
        self.model, self.dims, self.features = model, dims, features
        self.dynamic = bool(dims.get("dynamic"))
        if not self.dynamic:
            self.register_buffer("reference_points", encoder_reference_points(dims["level_shapes"]), persistent=False)

    def forward(self, image):
        if self.dynamic:
            srcs, pos_embeds = self.features(self.model, image, dynamic=True)
        else:
            srcs, pos_embeds = self.features(self.model, image)
        level_embed = self.model.transformer.level_embed
        src = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
        pos = torch.cat(
            [p.flatten(2).transpose(1, 2) + level_embed[l].view(1, 1, -1) for l, p in enumerate(pos_embeds)], 1
        )
        layer = self.model.transformer.encoder.layers[0]
        value, offsets, logits = attention_projections(
            layer.self_attn, src + pos, src, self.dims, self.dims["enc_points"]
        )
        # "+ 0 * src[...]" keeps the constant an output computed by the graph (a graph output may not be
        # an initializer in every runtime).
        if not self.dynamic:
            reference_points = self.reference_points + 0 * src[:, :1, :1, None]
            return src, pos, reference_points, value, offsets, logits
        outputs = [src, pos, dynamic_encoder_reference_points(srcs), value, offsets, logits]
        if self.dims["two_stage"]:
            outputs += list(dynamic_encoder_output_proposals(srcs))
        return tuple(outputs)


class EncoderStep(nn.Module):
    def __init__(self, model, dims, index):
        super().__init__()
        self.model, self.dims, self.index = model, dims, index

    def forward(self, src, core, pos):
        layers = self.model.transformer.encoder.layers
        src = finish_encoder_layer(layers[self.index - 1], src, core)
        value, offsets, logits = attention_projections(
            layers[self.index].self_attn, src + pos, src, self.dims, self.dims["enc_points"]
        )
        return src, value, offsets, logits


class DecoderInput(nn.Module):
    """Finish the encoder, project memory for every decoder layer, make queries, start decoder layer 0."""

    def __init__(self, model, dims):
        super().__init__()
        self.model, self.dims = model, dims
        if dims["two_stage"] and not dims.get("dynamic"):
            proposals, valid = encoder_output_proposals(dims["level_shapes"])
            self.register_buffer("proposals", proposals, persistent=False)
            self.register_buffer("proposal_valid", valid, persistent=False)

    def queries(self, memory, proposals=None, proposal_valid=None):
        transformer, hidden = self.model.transformer, self.dims["hidden"]
        if self.dims["two_stage"]:
            if proposals is None:  # fixed size: constants
                proposals, proposal_valid = self.proposals, self.proposal_valid
            else:  # dynamic: the encoder input's float32 validity
                proposal_valid = proposal_valid > 0.5
            out_memory = memory.masked_fill(~proposal_valid, 0.0)
            out_memory = transformer.enc_output_norm(transformer.enc_output(out_memory))
            last = self.dims["decoder_layers"]
            enc_class = self.model.class_embed[last](out_memory)
            coords_unact = self.model.bbox_embed[last](out_memory) + proposals
            topk = torch.topk(enc_class[..., 0], self.dims["queries"], dim=1)[1]
            topk_coords = torch.gather(coords_unact, 1, topk.unsqueeze(-1).repeat(1, 1, 4))
            reference = topk_coords.sigmoid()
            # official code fixes 128 features (= hidden / 2 for its d = 256)
            pos_trans = transformer.pos_trans_norm(transformer.pos_trans(proposal_pos_embed(topk_coords, hidden // 2)))
            query_pos, tgt = torch.split(pos_trans, hidden, dim=2)
            return tgt, query_pos, reference
        query_pos, tgt = torch.split(self.model.query_embed.weight, hidden, dim=1)
        query_pos, tgt = query_pos[None], tgt[None]
        reference = transformer.reference_points(query_pos).sigmoid()
        return tgt + 0 * memory[:, :1], query_pos + 0 * memory[:, :1], reference

    def forward(self, src, core, *proposals):
        transformer = self.model.transformer
        memory = finish_encoder_layer(transformer.encoder.layers[-1], src, core)
        n, s, _ = memory.shape
        heads = self.dims["heads"]
        values = [
            layer.cross_attn.value_proj(memory).view(n, s, heads, self.dims["hidden"] // heads)
            for layer in transformer.decoder.layers
        ]
        tgt, query_pos, reference = self.queries(memory, *proposals)
        layer = transformer.decoder.layers[0]
        tgt = decoder_self_attention(layer, tgt, query_pos)
        _, offsets, logits = attention_projections(
            layer.cross_attn, tgt + query_pos, None, self.dims, self.dims["dec_points"]
        )
        reference_input = expand_reference(reference, self.dims["levels"])
        return (tgt, query_pos, reference, reference_input, offsets, logits, *values)


class DecoderStep(nn.Module):
    def __init__(self, model, dims, index):
        super().__init__()
        self.model, self.dims, self.index = model, dims, index

    def forward(self, tgt, core, query_pos, *reference):
        reference = reference[0] if reference else None
        layers = self.model.transformer.decoder.layers
        hs = finish_decoder_layer(layers[self.index - 1], tgt, core)
        outputs = []
        if self.dims["box_refine"]:
            reference = refine_reference(self.model.bbox_embed[self.index - 1], hs, reference)
            outputs = [reference, expand_reference(reference, self.dims["levels"])]
        tgt = decoder_self_attention(layers[self.index], hs, query_pos)
        _, offsets, logits = attention_projections(
            layers[self.index].cross_attn, tgt + query_pos, None, self.dims, self.dims["dec_points"]
        )
        return (tgt, offsets, logits, *outputs)


class DetectionHead(nn.Module):
    def __init__(self, model, dims):
        super().__init__()
        self.model, self.dims = model, dims

    def forward(self, tgt, core, reference):
        last = self.dims["decoder_layers"] - 1
        hs = finish_decoder_layer(self.model.transformer.decoder.layers[last], tgt, core)
        logits = self.model.class_embed[last](hs)
        return logits, refine_reference(self.model.bbox_embed[last], hs, reference)


def deformable_plan(model, dims, features):
    """The split plan: segments + stage list. dims: hidden, heads, levels, level_shapes, enc/dec points,
    encoder/decoder layers, queries, box_refine, two_stage; dynamic + level_strides for a shorter-side size policy
    (level shapes from the image at run time, token axes symbolic)."""
    segments, stages = {}, []
    dynamic = bool(dims.get("dynamic"))
    levels = LevelRule("image", list(dims["level_strides"])) if dynamic else dims["level_shapes"]
    enc, dec = dims["encoder_layers"], dims["decoder_layers"]
    head_dim = dims["hidden"] // dims["heads"]

    def graph(name, module, inputs, outputs):
        segments[name] = Segment(module, inputs, outputs)
        stages.append(("graph", name))

    def kernel(name, value, reference, offsets, logits, output, queries, points, reference_dim):
        stages.append(
            (
                "kernel",
                KernelCall(
                    name,
                    value,
                    reference,
                    offsets,
                    logits,
                    output,
                    queries,
                    dims["heads"],
                    head_dim,
                    levels,
                    points,
                    reference_dim,
                ),
            )
        )

    # the encoder's query count: the token count S, a symbol bound from the first graph's outputs when dynamic
    s = "tokens" if dynamic else sum(h * w for h, w in dims["level_shapes"])
    proposals = ["enc_proposals", "enc_proposal_valid"] if dynamic and dims["two_stage"] else []
    graph(
        "encoder_input",
        EncoderInput(model, dims, features),
        ["image"],
        ["enc_src_0", "enc_pos", "enc_reference_points", "enc_value_0", "enc_offsets_0", "enc_logits_0"] + proposals,
    )
    for k in range(enc):
        kernel(
            f"encoder_{k}",
            f"enc_value_{k}",
            "enc_reference_points",
            f"enc_offsets_{k}",
            f"enc_logits_{k}",
            f"enc_core_{k}",
            s,
            dims["enc_points"],
            2,
        )
        if k + 1 < enc:
            graph(
                f"encoder_{k + 1}",
                EncoderStep(model, dims, k + 1),
                [f"enc_src_{k}", f"enc_core_{k}", "enc_pos"],
                [f"enc_src_{k + 1}", f"enc_value_{k + 1}", f"enc_offsets_{k + 1}", f"enc_logits_{k + 1}"],
            )
    graph(
        "decoder_input",
        DecoderInput(model, dims),
        [f"enc_src_{enc - 1}", f"enc_core_{enc - 1}"] + proposals,
        ["dec_tgt_0", "dec_query_pos", "dec_reference_0", "dec_reference_input_0", "dec_offsets_0", "dec_logits_0"]
        + [f"dec_value_{k}" for k in range(dec)],
    )
    reference = "dec_reference_0"
    reference_dim = 4 if dims["two_stage"] else 2
    for k in range(dec):
        reference_input = f"dec_reference_input_{k}" if dims["box_refine"] else "dec_reference_input_0"
        kernel(
            f"decoder_{k}",
            f"dec_value_{k}",
            reference_input,
            f"dec_offsets_{k}",
            f"dec_logits_{k}",
            f"dec_core_{k}",
            dims["queries"],
            dims["dec_points"],
            reference_dim,
        )
        if k + 1 < dec:
            outputs = [f"dec_tgt_{k + 1}", f"dec_offsets_{k + 1}", f"dec_logits_{k + 1}"]
            if dims["box_refine"]:
                outputs += [f"dec_reference_{k + 1}", f"dec_reference_input_{k + 1}"]
            inputs = [f"dec_tgt_{k}", f"dec_core_{k}", "dec_query_pos"] + ([reference] if dims["box_refine"] else [])
            graph(f"decoder_{k + 1}", DecoderStep(model, dims, k + 1), inputs, outputs)
            if dims["box_refine"]:
                reference, reference_dim = f"dec_reference_{k + 1}", 4
    graph(
        "head",
        DetectionHead(model, dims),
        [f"dec_tgt_{dec - 1}", f"dec_core_{dec - 1}", reference],
        ["pred_logits", "pred_boxes"],
    )
    pipeline = Pipeline("detect", ["image"], ["pred_logits", "pred_boxes"], stages)
    extra = {}
    if dynamic:
        # symbolic axes: the manifest's dims and the graphs' dynamic axes (write_package)
        symbolic = {"image": {2: "height", 3: "width"}}
        for name in segments["encoder_input"].outputs + segments["decoder_input"].inputs:
            if name.startswith("enc_"):
                symbolic[name] = {1: "tokens"}
        for name in segments["decoder_input"].outputs:
            if name.startswith("dec_value_"):
                symbolic[name] = {1: "tokens"}
        for k in range(1, enc):
            for name in segments[f"encoder_{k}"].inputs + segments[f"encoder_{k}"].outputs:
                symbolic[name] = {1: "tokens"}
        for k in range(enc):
            symbolic[f"enc_core_{k}"] = {1: "tokens"}
        extra["symbolic"] = symbolic
    return Plan(segments, [pipeline], extra)
