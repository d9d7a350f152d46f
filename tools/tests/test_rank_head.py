"""One-shot ranking head (webdetr_tools/oneshot/rank_head.py): output shapes, the listwise loss's "none" slot and
padding, box deltas round-trip, and a toy batch the head learns."""
import torch

from webdetr_tools.oneshot.rank_head import (
    GEOMETRY,
    IN_DIM,
    RankHead,
    calibration_loss,
    decode_deltas,
    encode_deltas,
    listwise_loss,
    pair_geometry,
)


def _features(n):
    return torch.nn.functional.normalize(torch.randn(n, IN_DIM), dim=-1)


def test_shapes_and_geometry():
    torch.manual_seed(0)
    head = RankHead(refine=True)
    boxes = torch.tensor([[10.0, 10, 50, 60], [100, 100, 200, 220], [12, 12, 48, 58]])
    geo_same = pair_geometry([10.0, 10, 50, 60], boxes, torch.tensor([0.9, 0.5, 0.1]), True)
    geo_cross = pair_geometry([10.0, 10, 50, 60], boxes, torch.tensor([0.9, 0.5, 0.1]), False)
    assert geo_same.shape == geo_cross.shape == (3, GEOMETRY)
    assert torch.isclose(geo_same[0, 4], torch.tensor(1.0))  # IoU with the patch itself
    assert geo_same[1, 4] == 0 and (geo_cross[:, 4:7] == 0).all()
    scores, deltas = head(_features(2), _features(6).reshape(2, 3, IN_DIM), torch.stack([geo_same, geo_cross]))
    assert scores.shape == (2, 3) and deltas.shape == (2, 3, 4)
    assert (deltas == 0).all()  # refinement starts as the identity
    assert sum(p.numel() for p in RankHead().parameters()) < 500_000


def test_listwise_loss_ignores_padded_proposals():
    torch.manual_seed(0)
    scores = torch.randn(3, 5)
    positive = torch.tensor([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, 1, 0, 0]], dtype=torch.bool)
    valid = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    base = listwise_loss(scores, positive, valid)
    padded = scores.clone()
    padded[~valid] = torch.randn(int((~valid).sum())) * 100  # whatever sits in the padding
    positive_in_padding = positive | ~valid  # and even a "positive" flag there
    assert torch.allclose(listwise_loss(padded, positive_in_padding, valid), base)
    # a picture without positives asks for "none": the loss is log(1 + sum exp(scores))
    one = listwise_loss(scores[1:2], positive[1:2], valid[1:2])
    assert torch.allclose(one, torch.log1p(scores[1, :2].exp().sum()))


def test_loss_decreases_on_a_toy_batch():
    """Positives are proposals whose features equal the patch's (plus noise); the head must learn to rank them."""
    torch.manual_seed(0)
    b, n = 8, 20
    q = _features(b)
    p = _features(b * n).reshape(b, n, IN_DIM)
    positive = torch.zeros(b, n, dtype=torch.bool)
    positive[:4, :3] = True  # half the groups hold 3 instances, half none
    p[positive] = torch.nn.functional.normalize(
        q[:4, None].expand(4, 3, IN_DIM).reshape(-1, IN_DIM) + 0.05 * torch.randn(12, IN_DIM), dim=-1
    )
    geo = torch.zeros(b, n, GEOMETRY)
    valid = torch.ones(b, n, dtype=torch.bool)
    valid[:, -4:] = False
    head = RankHead(dropout=0.0)
    opt = torch.optim.Adam(head.parameters(), 1e-3)
    first = None
    for _ in range(60):
        loss = listwise_loss(head(q, p, geo), positive, valid)
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.3 * first


def test_deltas_round_trip():
    boxes = torch.tensor([[10.0, 20, 50, 80], [0, 0, 8, 8]])
    targets = torch.tensor([[12.0, 18, 60, 70], [1, 2, 9, 12]])
    assert torch.allclose(decode_deltas(boxes, encode_deltas(boxes, targets)), targets, atol=1e-4)


def test_calibration_loss_and_prior_start():
    scores = torch.tensor([[3.0, -2.0, 1.0, 9.0]])
    positive = torch.tensor([[True, False, False, False]])
    valid = torch.tensor([[True, True, True, False]])
    softplus = torch.nn.functional.softplus
    expected = softplus(torch.logsumexp(torch.tensor([-2.0, 1.0]), 0)) + softplus(torch.tensor(-3.0))
    assert torch.allclose(calibration_loss(scores, positive, valid), expected)
    # with the prior the untrained head is the training-free score: 10 x mean neck cosine + log objectness
    torch.manual_seed(0)
    head = RankHead(prior=True).eval()
    q, p = _features(1), _features(3)[None]
    geo = pair_geometry([0.0, 0, 10, 10], torch.tensor([[0.0, 0, 10, 10]] * 3), torch.tensor([0.5, 0.2, 0.9]), False)
    cos = torch.stack([p[0, :, a:b] @ q[0, a:b] for a, b in ((0, 128), (128, 320), (320, 576), (576, 1056))]).mean(0)
    assert torch.allclose(head(q, p, geo[None])[0], 10 * cos + torch.tensor([0.5, 0.2, 0.9]).log(), atol=1e-5)
