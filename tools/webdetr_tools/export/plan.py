"""An export plan: named graph segments and the ordered stages (graph runs, kernel calls) of each pipeline.

The same plan is executed three ways: in PyTorch (run_plan, core = grid_sample) to check the split, traced
as one module (SingleGraph) for the single-graph export, and written into manifest.json for the runtime.
"""
from dataclasses import dataclass, field

import torch
from torch import nn

from .msda_core import ms_deform_attn_core


@dataclass
class Segment:
    module: nn.Module
    inputs: list
    outputs: list


@dataclass
class LevelRule:
    """Level shapes computed at run time from a pipeline tensor's last two dims (the image, [1, 3, H, W]):
    level l is ceil(H / strides[l]) x ceil(W / strides[l]), what stride-2 convolutions with "same" padding
    (ResNet, the extra input_proj levels) give. The manifest's `levels: {"from", "strides"}`."""

    source: str
    strides: list

    def shapes(self, tensors):
        height, width = tensors[self.source].shape[-2:]
        return [(-(-int(height) // s), -(-int(width) // s)) for s in self.strides]

    def manifest_levels(self):
        return {"from": self.source, "strides": list(self.strides)}


def level_shapes_of(level_shapes, tensors):
    """A kernel call's level shapes: fixed, or a LevelRule resolved from this run's tensors."""
    return level_shapes.shapes(tensors) if isinstance(level_shapes, LevelRule) else level_shapes


@dataclass
class KernelCall:
    name: str
    value: str
    reference_points: str
    sampling_offsets: str
    attention_logits: str
    output: str
    queries: object  # int, or a manifest dim expression resolved per run (e.g. "patches*20")
    heads: int
    head_dim: int
    level_shapes: object  # [(H_l, W_l), ...], or a LevelRule (dynamic size policy)
    points: int
    reference_dim: int

    def manifest_stage(self):
        return {
            "kind": "msDeformAttn",
            "name": self.name,
            "value": self.value,
            "referencePoints": self.reference_points,
            "samplingOffsets": self.sampling_offsets,
            "attentionLogits": self.attention_logits,
            "output": self.output,
            "queries": self.queries,
            "heads": self.heads,
            "headDim": self.head_dim,
            "levels": (
                self.level_shapes.manifest_levels()
                if isinstance(self.level_shapes, LevelRule)
                else [list(s) for s in self.level_shapes]
            ),
            "points": self.points,
            "referenceDim": self.reference_dim,
        }


@dataclass
class Pipeline:
    name: str
    inputs: list
    outputs: list
    stages: list  # ("graph", segment name) | ("kernel", KernelCall)
    after: str = None
    description: str = ""
    # another route through segments other pipelines already run (e.g. zoomed search's halves of `patches`):
    # run_plan and the single graph skip it
    alternative: bool = False


@dataclass
class Plan:
    segments: dict
    pipelines: list
    extra: dict = field(default_factory=dict)


def run_stages(plan, pipeline, tensors, core=ms_deform_attn_core):
    """Execute one pipeline's stages on a dict of named tensors (updated in place, returned)."""
    for kind, item in pipeline.stages:
        if kind == "graph":
            segment = plan.segments[item]
            outputs = segment.module(*[tensors[name] for name in segment.inputs])
            if not isinstance(outputs, (tuple, list)):
                outputs = (outputs,)
            assert len(outputs) == len(segment.outputs), (item, len(outputs), segment.outputs)
            tensors.update(zip(segment.outputs, outputs))
        else:
            tensors[item.output] = core(
                tensors[item.value],
                tensors[item.reference_points],
                tensors[item.sampling_offsets],
                tensors[item.attention_logits],
                level_shapes_of(item.level_shapes, tensors),
            )
    return tensors


def run_plan(plan, feeds, core=ms_deform_attn_core):
    tensors = dict(feeds)
    for pipeline in plan.pipelines:
        if not pipeline.alternative:
            run_stages(plan, pipeline, tensors, core)
    return tensors


class SingleGraph(nn.Module):
    """All pipelines of a plan as one module (the deformable core as grid_sample) for one-graph export."""

    def __init__(self, plan, inputs, outputs):
        super().__init__()
        self.plan, self.input_names, self.output_names = plan, inputs, outputs
        # register segment modules so their parameters belong to this module
        self.parts = nn.ModuleList([segment.module for segment in plan.segments.values()])

    def forward(self, *inputs):
        tensors = run_plan(self.plan, dict(zip(self.input_names, inputs)))
        return tuple(tensors[name] for name in self.output_names)


def tensor_specs(tensors):
    dtypes = {
        torch.float32: "float32",
        torch.float16: "float16",
        torch.int64: "int64",
        torch.int32: "int32",
        torch.bool: "bool",
    }
    return {name: {"dtype": dtypes[t.dtype], "shape": list(t.shape)} for name, t in tensors.items()}
