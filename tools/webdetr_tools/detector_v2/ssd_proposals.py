"""v3 proposals: SSDLite MobileNetV2's own detections (teacher/ssdlite.py) as fixed-shape graph ops, so the browser
graph can make them in front of the decoder exactly as training does.

SSDLite scores 1,917 anchors x 80 classes (sigmoid of its logits) and removes duplicates with per-class NMS, whose
output size depends on the data. Here the top `candidates` (anchor, class) pairs go through Fast NMS (YOLACT): a pair
is dropped when a higher-scoring pair of its class overlaps it by IoU > iou, whether or not that one was dropped
itself. Same shapes for every picture (TopK, Gather, a candidates x candidates IoU matrix, ReduceMax); the
detector_ssdlite_fusion experiment measured it at -0.1 AP against true NMS.

class_agnostic=True (detector v3j): the top `candidates` anchors by their best class instead of pairs, each labelled
with that class, and a higher-scoring anchor of any class suppresses: one query per box, so a query whose base logits
are the anchor's 80 (model_v3's base_logits "anchor") can move to another class without a duplicate beside it.

Each proposal also names the encoder token it reads its query content from: the cell holding the anchor's centre on
the encoder level of the anchor's SSD layer (the 3x3, 2x2 and 1x1 layers, coarser than the encoder's coarsest
level, map to that level).

API
  SSD_LAYERS: (grid, anchors per cell) of SSDLite's six box-predictor layers at 300x300, in anchor order
  anchor_tokens(level_grids=(19, 10, 5)) -> LongTensor [1917]: flat encoder-memory index per anchor
  fast_nms_topk(boxes [B,A,4] xyxy 0-1, logits [B,A,C], tokens [A], k, candidates=300, iou=0.5,
                suppressed_logit=-12, class_agnostic=False) -> Proposals (proposals.py; position = the flat
                memory token, grid = (0, 0): not a grid; a suppressed pair that still fills one of the k slots
                gets suppressed_logit as its logit)
"""
from __future__ import annotations

import torch

from .proposals import Proposals

SSD_LAYERS = ((19, 3), (10, 6), (5, 6), (3, 6), (2, 6), (1, 6))
ENCODER_GRIDS = (19, 10, 5)


def anchor_tokens(level_grids=ENCODER_GRIDS) -> torch.Tensor:
    """Anchors are ordered layer by layer, row-major within a layer, anchors of a cell adjacent (the TF OD API's
    anchor generator); their centres sit at (i + 0.5) / grid."""
    offsets = [0]
    for g in level_grids:
        offsets.append(offsets[-1] + g * g)
    out = []
    for layer, (grid, per_cell) in enumerate(SSD_LAYERS):
        level = min(layer, len(level_grids) - 1)
        target = level_grids[level]
        centre = (torch.arange(grid, dtype=torch.float64) + 0.5) / grid
        cell = (centre * target).floor().long().clamp(0, target - 1)
        token = offsets[level] + cell[:, None] * target + cell[None, :]
        out.append(token.reshape(-1).repeat_interleave(per_cell))
    return torch.cat(out)


def fast_nms_topk(
    boxes,
    logits,
    tokens,
    k: int,
    candidates: int = 300,
    iou: float = 0.5,
    suppressed_logit: float = -12.0,
    class_agnostic: bool = False,
) -> Proposals:
    b, a, c = logits.shape
    if class_agnostic:
        best, best_label = logits.max(dim=2)
        _, anchor = best.topk(candidates, dim=1)
        top, label = torch.gather(best, 1, anchor), torch.gather(best_label, 1, anchor)
    else:
        flat = logits.reshape(b, a * c)
        # Only TopK's indices are used, its values are gathered again and the suppression order compares values, not
        # ranks: onnxruntime-web's WebGPU EP may order equal or near-equal logits differently from PyTorch.
        _, index = flat.topk(candidates, dim=1)
        top = torch.gather(flat, 1, index)
        # trunc division and a product, not floor division and `%`: those export with a sign fix-up through Equal
        anchor = torch.div(index, c, rounding_mode="trunc")
        label = index - anchor * c
    cand = torch.gather(boxes.clamp(0, 1), 1, anchor[..., None].expand(-1, -1, 4))
    x0, y0, x1, y1 = cand.unbind(-1)
    area = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    iw = (torch.minimum(x1[:, :, None], x1[:, None, :]) - torch.maximum(x0[:, :, None], x0[:, None, :])).clamp(min=0)
    ih = (torch.minimum(y1[:, :, None], y1[:, None, :]) - torch.maximum(y0[:, :, None], y0[:, None, :])).clamp(min=0)
    inter = iw * ih
    overlap = inter / (area[:, :, None] + area[:, None, :] - inter + 1e-9)
    rank = torch.arange(candidates, device=logits.device)
    # pair i outscores pair j: a higher logit, or an equal one earlier in TopK's output. No Equal op here or below:
    # onnxruntime-web 1.30's WebGPU (JSEP) Equal gave wrong results in this graph (v3 lost every class logit on
    # WebGPU), so equality is written with GreaterOrEqual and Less.
    higher = (top[:, :, None] > top[:, None, :]) | (
        (top[:, :, None] >= top[:, None, :]) & (rank[:, None] < rank[None, :])
    )
    if class_agnostic:
        suppressor = (overlap > iou) & higher
    else:
        label_f = label.to(logits.dtype)
        same_class = (label_f[:, :, None] - label_f[:, None, :]).abs() < 0.5
        suppressor = (overlap > iou) & same_class & higher
    suppressed = suppressor.to(logits.dtype).amax(dim=1)
    ranked = top - 1e4 * suppressed  # suppressed pairs only fill slots left over, in score order
    _, order = ranked.topk(k, dim=1)
    anchor, label = torch.gather(anchor, 1, order), torch.gather(label, 1, order)
    gone = torch.gather(suppressed, 1, order) > 0.5
    logit = torch.where(gone, torch.full_like(top[:, :k], suppressed_logit), torch.gather(top, 1, order))
    x0, y0, x1, y1 = torch.gather(cand, 1, order[..., None].expand(-1, -1, 4)).unbind(-1)
    box = torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], -1)
    class_logits = torch.gather(logits, 1, anchor[..., None].expand(-1, -1, c))
    if class_agnostic:  # a suppressed anchor filling a slot must not bring back its 80 logits (a duplicate)
        class_logits = torch.where(gone[..., None], torch.full_like(class_logits, suppressed_logit), class_logits)
    position = tokens[anchor]
    return Proposals(box, label, logit, class_logits, position, (0, 0))
