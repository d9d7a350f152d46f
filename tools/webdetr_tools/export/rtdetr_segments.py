"""RT-DETR (v1 / v2) cut into graph segments around the decoder's deformable cross-attention.

The backbone, the hybrid encoder (its attention is ordinary multi-head attention) and query selection form the
first segment, which also projects the memory to every decoder layer's value and starts decoder layer 0 (self
attention, then the cross-attention's raw offsets and logits). Each kernel call is one layer's deformable core
(ms_deform_attn_rt: per-level points, bilinear or discrete sampling, the query's box shared by every level);
the segment after it finishes that layer (output_proj, norm2, FFN, norm3), refines the box and starts the next
layer, and the last one applies the heads. A frame runs eval_idx + 2 graphs and eval_idx + 1 kernel calls.

Segments call our module tree (webdetr_tools/rtdetr/model.py), which loads official checkpoints strictly.
"""
from dataclasses import dataclass

import torch
from torch import nn

from ..rtdetr.model import inverse_sigmoid
from .plan import Pipeline, Plan, Segment


@dataclass
class RtKernelCall:
    """One ms_deform_attn_rt call: the manifest's msDeformAttnRt stage."""

    name: str
    attention: nn.Module  # the layer's MSDeformableAttention (its core formula runs the call in PyTorch)
    value: str
    reference_points: str
    sampling_offsets: str
    attention_logits: str
    output: str
    queries: int
    heads: int
    head_dim: int
    level_shapes: list
    points: list
    method: str
    offset_scale: float

    def run(self, tensors):
        return self.attention.core(
            tensors[self.value],
            tensors[self.reference_points],
            tensors[self.sampling_offsets],
            tensors[self.attention_logits],
            self.level_shapes,
        )

    def manifest_stage(self):
        return {
            "kind": "msDeformAttnRt",
            "name": self.name,
            "value": self.value,
            "referencePoints": self.reference_points,
            "samplingOffsets": self.sampling_offsets,
            "attentionLogits": self.attention_logits,
            "output": self.output,
            "queries": self.queries,
            "heads": self.heads,
            "headDim": self.head_dim,
            "levels": [list(s) for s in self.level_shapes],
            "points": list(self.points),
            "referenceDim": 4,
            "sharedReference": True,
            "offsetScale": self.offset_scale,
            "method": self.method,
        }


def start_layer(dec, layer_index, target, ref):
    """Self attention of decoder layer i and its cross-attention projections: target, [N,Q,1,4], offsets, logits."""
    layer = dec.decoder.layers[layer_index]
    query_pos = dec.query_pos_head(ref)
    target = layer.self_attention(target, query_pos)
    _, offsets, logits = layer.cross_attn.projections(target + query_pos, None)
    return target, ref[:, :, None].contiguous(), offsets, logits


class EncoderSegment(nn.Module):
    """image -> layer 0's inputs, and every decoder layer's value."""

    def __init__(self, model, layers):
        super().__init__()
        self.model, self.layers = model, layers

    def forward(self, image):
        dec = self.model.decoder
        memory, shapes = dec.memory(self.model.encoder(self.model.backbone(image)))
        target, ref_unact = dec.select_queries(memory, shapes)
        values = [dec.decoder.layers[i].cross_attn.projections(memory[:, :1], memory)[0] for i in range(self.layers)]
        return (*start_layer(dec, 0, target, ref_unact.sigmoid()), *values)


class LayerSegment(nn.Module):
    """Finish decoder layer i (its core given), refine the box, start layer i + 1."""

    def __init__(self, model, index):
        super().__init__()
        self.model, self.index = model, index

    def forward(self, target, core, reference):
        dec = self.model.decoder
        ref = reference[:, :, 0]
        target = dec.decoder.layers[self.index].finish(target, core)
        box = torch.sigmoid(dec.dec_bbox_head[self.index](target) + inverse_sigmoid(ref))
        return start_layer(dec, self.index + 1, target, box)


class HeadSegment(nn.Module):
    """Finish the last evaluated layer and apply its heads: pred_logits [N,Q,K], pred_boxes [N,Q,4]."""

    def __init__(self, model, index):
        super().__init__()
        self.model, self.index = model, index

    def forward(self, target, core, reference):
        dec = self.model.decoder
        target = dec.decoder.layers[self.index].finish(target, core)
        box = torch.sigmoid(dec.dec_bbox_head[self.index](target) + inverse_sigmoid(reference[:, :, 0]))
        return dec.dec_score_head[self.index](target), box


def rtdetr_plan(model, level_shapes):
    """The split plan at fixed level shapes (the exported input size)."""
    cfg = model.cfg
    layers = cfg["eval_idx"] % cfg["dec_layers"] + 1
    heads, head_dim = cfg["dec_heads"], cfg["hidden"] // cfg["dec_heads"]

    def layer_io(i):
        return [f"dec{i}_target", f"dec{i}_reference", f"dec{i}_offsets", f"dec{i}_logits"]

    segments = {
        "encoder": Segment(
            EncoderSegment(model, layers), ["image"], layer_io(0) + [f"dec{i}_value" for i in range(layers)]
        )
    }
    stages = [("graph", "encoder")]
    for i in range(layers):
        attention = model.decoder.decoder.layers[i].cross_attn
        call = RtKernelCall(
            name=f"dec{i}_cross_attn",
            attention=attention,
            value=f"dec{i}_value",
            reference_points=f"dec{i}_reference",
            sampling_offsets=f"dec{i}_offsets",
            attention_logits=f"dec{i}_logits",
            output=f"dec{i}_core",
            queries=cfg["queries"],
            heads=heads,
            head_dim=head_dim,
            level_shapes=[tuple(s) for s in level_shapes],
            points=list(cfg["num_points"]),
            method=cfg["cross_attn_method"],
            offset_scale=attention.offset_scale,
        )
        stages.append(("kernel", call))
        inputs = [f"dec{i}_target", f"dec{i}_core", f"dec{i}_reference"]
        if i + 1 < layers:
            name = f"decoder{i}"
            segments[name] = Segment(LayerSegment(model, i), inputs, layer_io(i + 1))
        else:
            name = "head"
            segments[name] = Segment(HeadSegment(model, i), inputs, ["pred_logits", "pred_boxes"])
        stages.append(("graph", name))
    pipeline = Pipeline(
        "detect",
        ["image"],
        ["pred_logits", "pred_boxes"],
        stages,
        description="RT-DETR: backbone, hybrid encoder and query selection, then per decoder layer the deformable "
        "cross-attention on ms_deform_attn_rt",
    )
    return Plan(segments, [pipeline])


def run_rt_plan(plan, feeds):
    """Execute the plan in PyTorch (kernel calls through the official core formula)."""
    tensors = dict(feeds)
    for pipeline in plan.pipelines:
        for kind, item in pipeline.stages:
            if kind == "graph":
                segment = plan.segments[item]
                outputs = segment.module(*[tensors[n] for n in segment.inputs])
                outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
                tensors.update(zip(segment.outputs, outputs))
            else:
                tensors[item.output] = item.run(tensors)
    return tensors


class RtSingleGraph(nn.Module):
    """The whole plan as one module (the core as grid_sample / gather) for the single-graph baseline."""

    def __init__(self, plan, inputs, outputs):
        super().__init__()
        self.plan, self.input_names, self.output_names = plan, inputs, outputs
        self.parts = nn.ModuleList([s.module for s in plan.segments.values()])

    def forward(self, *inputs):
        tensors = run_rt_plan(self.plan, dict(zip(self.input_names, inputs)))
        return tuple(tensors[n] for n in self.output_names)
