"""One-shot model: patch groups are independent (block-diagonal mask), any K works, the loss trains."""
import torch

from webdetr_tools.oneshot.losses import match_groups, set_loss
from webdetr_tools.oneshot.model import OneShotConfig, OneShotDETR, group_mask

CHANNELS = [8, 8, 16]


def tiny(**kw):
    torch.manual_seed(0)
    cfg = OneShotConfig(
        channels=CHANNELS,
        d_model=32,
        nheads=4,
        enc_layers=1,
        dec_layers=2,
        dim_feedforward=64,
        n_points=2,
        queries_per_patch=3,
        **kw,
    )
    return OneShotDETR(cfg).eval()


def levels(batch=1):
    g = torch.Generator().manual_seed(1)
    return [torch.rand(batch, c, s, s, generator=g) for c, s in zip(CHANNELS, (8, 4, 2))]


def test_group_mask_is_block_diagonal():
    m = group_mask(2, 3)
    assert m.shape == (6, 6)
    assert (m[:3, :3] == 0).all() and (m[3:, 3:] == 0).all()
    assert torch.isinf(m[:3, 3:]).all() and torch.isinf(m[3:, :3]).all()


def test_a_patch_result_does_not_depend_on_the_other_patches():
    model = tiny()
    desc = torch.rand(1, 3, sum(CHANNELS), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        all3 = model(levels(), desc)
        alone = model(levels(), desc[:, 1:2])
        other = model(levels(), torch.cat([desc[:, 1:2], torch.rand(1, 4, sum(CHANNELS))], 1))
    g = 3
    assert all3["pred_logits"].shape == (1, 9, 1) and all3["pred_boxes"].shape == (1, 9, 4)
    torch.testing.assert_close(all3["pred_logits"][:, g : 2 * g], alone["pred_logits"], atol=1e-5, rtol=0)
    torch.testing.assert_close(all3["pred_boxes"][:, g : 2 * g], alone["pred_boxes"], atol=1e-6, rtol=0)
    torch.testing.assert_close(other["pred_boxes"][:, :g], alone["pred_boxes"], atol=1e-6, rtol=0)
    # and the patch matters: a different descriptor changes the group's output
    assert (all3["pred_logits"][:, :g] - alone["pred_logits"]).abs().max() > 1e-4


def test_matching_stays_inside_each_group():
    logits = torch.zeros(1, 6, 1)
    boxes = torch.tensor([[[0.5, 0.5, 0.2, 0.2]] * 3 + [[0.2, 0.2, 0.1, 0.1]] * 3])
    boxes[0, 4] = torch.tensor([0.8, 0.8, 0.1, 0.1])
    targets = [[torch.tensor([[0.8, 0.8, 0.1, 0.1]]), torch.tensor([[0.8, 0.8, 0.1, 0.1]])]]
    ((q, tb),) = match_groups(logits, boxes, targets, 3)
    assert q.tolist()[1] == 4 and q.tolist()[0] in (0, 1, 2)  # group 0 cannot take query 4


def test_a_few_steps_reduce_the_loss_on_one_batch():
    model = tiny(mask_ratio=0.0).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    lv, desc = levels(2), torch.rand(2, 2, sum(CHANNELS), generator=torch.Generator().manual_seed(3))
    targets = [[torch.tensor([[0.3, 0.3, 0.2, 0.2]]), torch.tensor([[0.7, 0.6, 0.3, 0.4]])]] * 2
    losses = []
    for _ in range(30):
        loss, _ = set_loss(model(lv, desc), targets, 3)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


class _Image(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, l8, l16, l32):
        return self.model.encode([l8, l16, l32])


class _Patches(torch.nn.Module):
    def __init__(self, model, shapes):
        super().__init__()
        self.model, self.shapes = model, shapes

    def forward(self, memory, patch_desc):
        logits, boxes = self.model.decode(memory, self.shapes, patch_desc)
        return logits[-1], boxes[-1]


def test_exports_as_image_and_patches_onnx_graphs(tmp_path):
    """The two pipelines an exporter cuts (backbone excluded) trace to valid opset-16 ONNX graphs."""
    import onnx

    model = tiny()
    lv = levels()
    desc = torch.rand(1, 2, sum(CHANNELS))
    torch.onnx.export(
        _Image(model),
        tuple(lv),
        tmp_path / "image.onnx",
        opset_version=16,
        input_names=["l8", "l16", "l32"],
        output_names=["memory"],
    )
    memory = model.encode(lv)
    torch.onnx.export(
        _Patches(model, model.spatial_shapes(lv)),
        (memory.detach(), desc),
        tmp_path / "patches.onnx",
        opset_version=16,
        input_names=["memory", "patch_desc"],
        output_names=["logits", "boxes"],
    )
    for name in ("image", "patches"):
        graph = onnx.load(str(tmp_path / f"{name}.onnx"))
        onnx.checker.check_model(graph)
        assert "GridSample" in {n.op_type for n in graph.graph.node}
