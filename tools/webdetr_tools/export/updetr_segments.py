"""Export plan for UP-DETR (DETR R50-C5 + query-patch branch), built on our reference model (models/updetr.py).

Pretrain checkpoints (patch2query present) get two chained pipelines so that a new query patch re-runs only
the patch part:
- "image":   image [1,3,H,W] -> memory, pos [S,1,d]            (graph image_encoder)
- "patches": after "image"; patches [1,K,3,h,w] -> query_pos [K*g,1,d] (graph patch_queries: backbone GAP ->
             patch2query, repeated over each patch's g = num_queries // num_patches queries, + query_embed[:K*g])
             -> pred_logits [1,K*g,C+1], pred_boxes [1,K*g,4] (graph patch_decoder: official group mask cut to
             [:K*g, :K*g], decoder, heads).
K is a dynamic ONNX axis (symbol "patches"); nothing in these graphs bakes K: the repeat is an expand/reshape
and the query_embed / mask slices end at query_pos's traced length.
Detection checkpoints (fine-tuned DETR layout) get one pipeline "detect": image_encoder then detection_decoder
(query_pos = query_embed). Both export a single graph of everything too.
"""
import torch.nn.functional as F
from torch import nn

from .plan import Pipeline, Plan, Segment

PATCHES = "patches"


def queries_symbol(per_patch):
    return f"{PATCHES}*{per_patch}"


class ImageEncoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        return self.model.encode_image(image)


class PatchQueries(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, patches):
        m = self.model
        feat = F.adaptive_avg_pool2d(m.image_features(patches.flatten(0, 1)), 1).flatten(1)  # [K, C]
        feat = m.patch2query(feat)  # [K, d]
        per_patch = m.num_queries // m.num_patches
        # repeat_interleave over each patch's group, as an expand + reshape (keeps K dynamic); batch is 1
        queries = feat.unsqueeze(1).expand(-1, per_patch, -1).reshape(-1, 1, feat.shape[-1])
        return queries + m.query_embed.weight[: queries.shape[0]].unsqueeze(1)


class PatchDecoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, memory, pos, query_pos):
        q = query_pos.shape[0]
        return self.model.head(self.model.decode(memory, pos, query_pos, self.model.attention_mask[:q, :q]))


class DetectionDecoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, memory, pos):
        query_pos = self.model.query_embed.weight.unsqueeze(1)
        return self.model.head(self.model.decode(memory, pos, query_pos))


def updetr_plan(model, config):
    """Plan for a loaded UPDETR (eval). plan.extra['symbolic'] names the dynamic axes per tensor."""
    segments = {"image_encoder": Segment(ImageEncoder(model), ["image"], ["memory", "pos"])}
    image = Pipeline(
        "image",
        ["image"],
        ["memory", "pos"],
        [("graph", "image_encoder")],
        description="backbone + transformer encoder; does not depend on the query patches",
    )
    if config.variant == "pretrain":
        per_patch = config.num_queries // config.num_patches
        segments["patch_queries"] = Segment(PatchQueries(model), ["patches"], ["query_pos"])
        segments["patch_decoder"] = Segment(
            PatchDecoder(model), ["memory", "pos", "query_pos"], ["pred_logits", "pred_boxes"]
        )
        patches = Pipeline(
            "patches",
            ["patches"],
            ["pred_logits", "pred_boxes"],
            [("graph", "patch_queries"), ("graph", "patch_decoder")],
            after="image",
            description=f"query patches (1..{config.num_patches}) -> {per_patch} queries each, "
            "block-diagonal group mask; re-run alone when the patches change",
        )
        symbol = queries_symbol(per_patch)
        symbolic = {
            "patches": {1: PATCHES},
            "query_pos": {0: symbol},
            "pred_logits": {1: symbol},
            "pred_boxes": {1: symbol},
        }
        return Plan(
            segments, [image, patches], {"symbolic": symbolic, "single_graph_description": "one graph: image + patches"}
        )
    segments["detection_decoder"] = Segment(DetectionDecoder(model), ["memory", "pos"], ["pred_logits", "pred_boxes"])
    detect = Pipeline(
        "detect", ["image"], ["pred_logits", "pred_boxes"], [("graph", "image_encoder"), ("graph", "detection_decoder")]
    )
    return Plan(segments, [detect], {"single_graph_description": "one graph: image -> logits, boxes"})
