"""AlignDet pretraining losses: per view, the detector's set loss against the proposals as one class
'object' (sigmoid focal + L1 + GIoU, every decoder layer, training/losses.py); across the two views, a
box-level InfoNCE between the projected last-layer decoder embeddings of the queries that Hungarian
matching assigned to the same proposal.

InfoNCE (symmetric, as SimCLR / AlignDet's box-level contrast): for N proposals seen in both views,
logits = normalize(a) @ normalize(b).T / temperature, cross-entropy towards the diagonal in both
directions, averaged. Negatives: every other proposal of the batch (other boxes of the same image and
of the other images). A simplification against the paper: no momentum encoder or memory queue.

API
  info_nce(a [N, D], b [N, D], temperature=0.2) -> scalar (0 when N < 2: nothing to contrast)
  matched_pairs(indices_a, ids_a, indices_b, ids_b) -> per image (query idx in a [K], query idx in b [K])
      for the proposals matched in both views (indices_*: hungarian_match output; ids_*: per image the
      proposal index of every target box of that view)
  view_targets(boxes_list) -> [{'labels' zeros, 'boxes' cxcywh}] (boxes_list: per image xyxy normalized)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..training.boxes import xyxy_to_cxcywh


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    if a.shape[0] < 2:
        return (a.sum() + b.sum()) * 0.0
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = a @ b.t() / temperature
    labels = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def matched_pairs(indices_a, ids_a, indices_b, ids_b):
    out = []
    for (qa, ta), pa, (qb, tb), pb in zip(indices_a, ids_a, indices_b, ids_b):
        query_of_a = {int(pa[t]): int(q) for q, t in zip(qa, ta)}
        query_of_b = {int(pb[t]): int(q) for q, t in zip(qb, tb)}
        common = sorted(set(query_of_a) & set(query_of_b))
        out.append(
            (
                torch.tensor([query_of_a[p] for p in common], dtype=torch.int64),
                torch.tensor([query_of_b[p] for p in common], dtype=torch.int64),
            )
        )
    return out


def view_targets(boxes_list) -> list[dict[str, torch.Tensor]]:
    return [
        {"labels": torch.zeros(len(b), dtype=torch.int64), "boxes": xyxy_to_cxcywh(b).reshape(-1, 4)}
        for b in boxes_list
    ]
