"""Box conversions and generalized IoU for normalized cxcywh boxes (torch).

API: cxcywh_to_xyxy(b), xyxy_to_cxcywh(b), box_area(b [..., 4]) -> [...], box_iou(a [..., N, 4], b [..., M, 4]) ->
(iou [..., N, M], union), generalized_box_iou(a, b) -> [N, M] (xyxy inputs, Rezatofighi et al. 2019).
"""
import torch


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = b.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), -1)


def xyxy_to_cxcywh(b: torch.Tensor) -> torch.Tensor:
    x0, y0, x1, y1 = b.unbind(-1)
    return torch.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), -1)


def box_area(b: torch.Tensor) -> torch.Tensor:
    """[...]: the area of xyxy boxes [..., 4]."""
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def box_iou(a: torch.Tensor, b: torch.Tensor):
    # leading dims batch (oneshot duplicate_overlap: per patch group); the matcher's 2-D case is [N, M]
    lt = torch.max(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.min(a[..., :, None, 2:], b[..., None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]  # not prod(-1): ReduceProd in the exported patch head (280 ms of 2.2 s, emulated)
    union = box_area(a)[..., :, None] + box_area(b)[..., None, :] - inter
    return inter / union, union


def generalized_box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    iou, union = box_iou(a, b)
    lt = torch.min(a[:, None, :2], b[None, :, :2])
    rb = torch.max(a[:, None, 2:], b[None, :, 2:])
    enclosing = (rb - lt).clamp(min=0).prod(-1)
    return iou - (enclosing - union) / enclosing
