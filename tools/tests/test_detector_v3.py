"""Detector v3 pieces (random tensors stand in for SSDLite unless the pinned model is in .cache/coco-ssd): each
anchor's encoder token is the cell holding its centre, Fast NMS + top-k equals true per-class NMS where no chain
of suppressions happens (and differs as documented where one does), the model's step-0 output is exactly that
top-k, variants dispatches v3, and SsdInputs gives SsdLite's own boxes and scores."""
import json

import pytest
import torch
from torchvision.ops import batched_nms

from webdetr_tools.detector_v2 import model_v3, variants
from webdetr_tools.detector_v2.config import REPO, load_config
from webdetr_tools.detector_v2.ssd_proposals import SSD_LAYERS, anchor_tokens, fast_nms_topk
from webdetr_tools.teacher.ssdlite import DEFAULT_CACHE, verified

ENCODER_LEVELS = ((0, 19), (361, 10), (461, 5))  # (first flat token, grid) of the three encoder levels
NEED_MODEL = pytest.mark.skipif(
    not verified(DEFAULT_CACHE), reason="fetch the model: webdetr_tools.teacher.ssdlite.fetch()"
)


def _config(num_queries=10):
    config = json.loads(json.dumps(load_config(REPO / "tools" / "configs" / "detector_v3.json")))
    config["model"].update(
        hidden_dim=32, nheads=2, enc_layers=1, dec_layers=3, dim_feedforward=64, num_queries=num_queries
    )
    config["model"].update(enc_n_points=2, dec_n_points=2)
    config["train"].update(init_from=None)
    return config


def _cell_token(cy: float, cx: float, level: int) -> int:
    first, grid = ENCODER_LEVELS[level]
    row, col = min(int(cy * grid), grid - 1), min(int(cx * grid), grid - 1)
    return first + row * grid + col


def _random_inputs(batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    taps = [torch.randn(batch, c, s, s, generator=g) for c, s in ((576, 19), (1280, 10), (512, 5))]
    xy = torch.rand(batch, 1917, 2, generator=g) * 0.8
    wh = torch.rand(batch, 1917, 2, generator=g) * 0.3 + 0.02
    logits = torch.randn(batch, 1917, 80, generator=g) * 3
    return [*taps, torch.cat([xy, xy + wh], -1), logits]


def test_anchor_tokens_are_the_cells_holding_the_anchor_centres():
    tokens = anchor_tokens().tolist()
    assert len(tokens) == 1917 == sum(g * g * n for g, n in SSD_LAYERS)
    start = 0
    for layer, (grid, per_cell) in enumerate(SSD_LAYERS):
        for i in range(grid * grid * per_cell):
            row, col = divmod(i // per_cell, grid)  # row-major cells, a cell's anchors adjacent
            want = _cell_token((row + 0.5) / grid, (col + 0.5) / grid, min(layer, 2))
            if layer < 3:  # the first three layers' grids are the encoder's: the same cell
                assert want == ENCODER_LEVELS[layer][0] + row * grid + col
            assert tokens[start + i] == want, (layer, i)
        start += grid * grid * per_cell
    assert max(tokens) == 485 and tokens[-1] == 461 + 12  # the 1x1 layer's centre: the 5x5 level's middle cell


@NEED_MODEL
def test_anchor_tokens_match_the_graphs_anchor_constant():
    from webdetr_tools.backbones.tfjs_graph import load_tfjs_model
    from webdetr_tools.teacher.ssdlite import ANCHORS_NODE, fetch

    anchors = torch.from_numpy(load_tfjs_model(fetch()).weights[ANCHORS_NODE][0].copy())  # ymin xmin ymax xmax
    cy, cx = ((anchors[:, 0] + anchors[:, 2]) / 2).tolist(), ((anchors[:, 1] + anchors[:, 3]) / 2).tolist()
    layer_of = [layer for layer, (g, n) in enumerate(SSD_LAYERS) for _ in range(g * g * n)]
    want = [_cell_token(y, x, min(layer, 2)) for y, x, layer in zip(cy, cx, layer_of)]
    assert anchor_tokens().tolist() == want


def _clusters(seed=0, batch=2, classes=4, clusters=5, members=4):
    """Each class owns a few clusters of near-identical boxes (IoU > 0.8 inside, 0 across clusters), each anchor
    one clearly winning class: true NMS keeps each (class, cluster)'s best pair and no suppression chains."""
    g = torch.Generator().manual_seed(seed)
    n = classes * clusters
    corner = torch.stack(torch.meshgrid(torch.arange(5.0), torch.arange(4.0), indexing="ij"), -1).reshape(-1, 2)
    corner = corner[torch.randperm(n, generator=g)][:, [1, 0]] * torch.tensor([0.25, 0.2])  # x, y on disjoint tiles
    base = torch.cat([corner + 0.02, corner + torch.tensor([0.2, 0.15])], -1)  # 0.18 x 0.13 boxes in 0.25 x 0.2 tiles
    boxes = base.repeat_interleave(members, 0)[None].repeat(batch, 1, 1)
    boxes = boxes + (torch.rand(boxes.shape, generator=g) - 0.5) * 0.004
    owner = torch.arange(n).repeat_interleave(members) % classes
    logits = torch.randn(batch, n * members, classes, generator=g) - 8
    logits[:, torch.arange(n * members), owner] = torch.rand(batch, n * members, generator=g) * 6
    return boxes, logits


def _anchors_of(p, tokens_first, tokens_step):
    return torch.div(p.position - tokens_first, tokens_step, rounding_mode="floor")


def test_fast_nms_equals_true_nms_without_chains():
    boxes, logits = _clusters()
    b, a, c = logits.shape
    tokens = torch.arange(a) * 7 + 3  # distinct tokens: the anchor of each proposal can be read back
    candidates = 120  # the 80 owned pairs and the best 40 others: same boxes, other classes
    p = fast_nms_topk(boxes, logits, tokens, k=candidates, candidates=candidates, iou=0.5, suppressed_logit=-12.0)
    assert p.boxes.shape == (b, candidates, 4) and p.class_logits.shape == (b, candidates, c)
    assert p.labels.shape == p.logit.shape == p.position.shape == (b, candidates)
    anchor = _anchors_of(p, 3, 7)
    assert (p.position == tokens[anchor]).all() and p.grid == (0, 0)
    for i in range(b):
        top, index = logits[i].reshape(-1).topk(candidates)
        cand_anchor, cand_label = index // c, index % c
        keep = batched_nms(boxes[i, cand_anchor], top, cand_label, 0.5)
        assert 0 < len(keep) < candidates
        kept = p.logit[i] != -12.0
        assert kept.sum() == len(keep) and kept[: len(keep)].all()  # kept pairs first, in score order
        assert anchor[i, : len(keep)].tolist() == cand_anchor[keep].tolist()
        assert p.labels[i, : len(keep)].tolist() == cand_label[keep].tolist()
        assert torch.equal(p.logit[i, : len(keep)], top[keep])
        assert torch.equal(p.class_logits[i], logits[i, anchor[i]])
        x0, y0, x1, y1 = boxes[i, anchor[i]].unbind(-1)
        want = torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], -1)
        assert torch.allclose(p.boxes[i], want, atol=1e-7)
    few = fast_nms_topk(boxes, logits, tokens, k=5, candidates=candidates)
    assert few.boxes.shape == (b, 5, 4) and torch.equal(few.logit, p.logit[:, :5])


def test_fast_nms_drops_the_third_box_of_a_chain_and_clamps_boxes():
    # A (0.9) overlaps B (0.8) by IoU 0.6, B overlaps C (0.7) by 0.6, A and C by 0.33: true NMS keeps A and C,
    # Fast NMS lets the dropped B drop C too. D is a different class on the same place as A: untouched.
    boxes = torch.tensor([[0.0, 0.0, 0.4, 0.4], [0.1, 0.0, 0.5, 0.4], [0.2, 0.0, 0.6, 0.4], [0.0, 0.0, 0.4, 0.4]])
    logits = torch.full((1, 4, 2), -20.0)
    logits[0, :, 0] = torch.tensor([0.9, 0.8, 0.7, -20.0])
    logits[0, 3, 1] = 0.6
    keep = batched_nms(boxes[:3], logits[0, :3, 0], torch.zeros(3, dtype=torch.long), 0.5)
    assert keep.tolist() == [0, 2]
    p = fast_nms_topk(boxes[None], logits, torch.arange(4), k=4, candidates=4, iou=0.5, suppressed_logit=-12.0)
    assert p.position[0].tolist() == [0, 3, 1, 2] and p.labels[0].tolist() == [0, 1, 0, 0]
    assert p.logit[0].tolist() == pytest.approx([0.9, 0.6, -12.0, -12.0])
    loose = fast_nms_topk(boxes[None], logits, torch.arange(4), k=4, candidates=4, iou=0.65, suppressed_logit=-12.0)
    assert loose.logit[0].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])  # IoU 0.6 is not over 0.65

    # Clamped before the IoU: B reaches out to x = -1 (IoU 0.33 with A unclamped) but is A inside the picture.
    outside = torch.tensor([[[0.0, 0.0, 0.5, 0.5], [-1.0, 0.0, 0.5, 0.5], [0.6, -0.2, 1.3, 1.1]]])
    logits = torch.tensor([[[2.0], [1.0], [0.5]]])
    p = fast_nms_topk(outside, logits, torch.arange(3), k=3, candidates=3, iou=0.5, suppressed_logit=-12.0)
    assert p.position[0].tolist() == [0, 2, 1] and p.logit[0].tolist() == [2.0, 0.5, -12.0]
    want = torch.tensor([[0.25, 0.25, 0.5, 0.5], [0.8, 0.5, 0.4, 1.0], [0.25, 0.25, 0.5, 0.5]])
    assert torch.allclose(p.boxes[0], want, atol=1e-6)


def test_step0_output_is_ssdlites_fast_nms_top_k():
    torch.set_num_threads(1)
    config = _config()
    model = model_v3.build_model_v3(config).eval()
    inputs = _random_inputs()
    logits, boxes = model_v3.forward_eval(model, inputs)
    q = config["model"]["num_queries"]
    assert logits.shape == (2, q, 80) and boxes.shape == (2, q, 4)
    prop = config["model"]["proposals"]
    p = fast_nms_topk(inputs[3], inputs[4], anchor_tokens(), q, prop["candidates"], prop["iou"], -12.0)
    assert (p.logit > -12.0).all()  # q unsuppressed proposals: the top-k has no ties
    scores, index = logits.sigmoid().flatten(1).topk(q, dim=1)
    query, label = index // 80, index % 80
    assert torch.equal(scores, p.logit.sigmoid()) and torch.equal(label, p.labels)
    assert torch.equal(query, torch.arange(q).expand(2, q))
    assert (boxes - p.boxes).abs().max() < 1e-6

    # The query content reads the proposal's token anywhere in the 486-token memory (v2b read level 8 only).
    memory = torch.arange(486.0)[None, :, None].expand(2, 486, 32)
    with torch.no_grad():
        got = model.proposal_queries(memory, p)["tgt"]
        extra = model.score_embed(p.class_logits.sigmoid()) + model.label_embed(p.labels)
    assert torch.allclose((got - extra)[..., 0], p.position.float())
    assert p.position.max() >= 361  # some proposals read the 10x10 or 5x5 level

    for bad in (dict(num_feature_levels=4), dict(two_stage=False)):
        other = _config()
        other["model"].update(bad)
        with pytest.raises(ValueError):
            model_v3.build_model_v3(other)


def test_variants_dispatch_v3():
    torch.set_num_threads(1)
    config = _config(num_queries=4)
    model = variants.build(config)
    assert isinstance(model, model_v3.DeformableDETRV3) and variants.is_b(model)
    inputs = _random_inputs(batch=1, seed=1)
    layers, enc = variants.forward_train(model, inputs)
    assert enc is None and len(layers) == 3
    assert all(lg.shape == (1, 4, 80) and bx.shape == (1, 4, 4) for lg, bx in layers)
    logits, boxes = variants.forward_eval(model.eval(), inputs)
    assert torch.allclose(logits, layers[-1][0]) and torch.allclose(boxes, layers[-1][1])
    with pytest.raises(ValueError, match="300x300"):  # view_cache gives v3 configs the SSDLite cache
        variants.view_cache(dict(config, feature_size=320), REPO / "data")


@NEED_MODEL
def test_ssd_inputs_equal_ssdlite_decode():
    from webdetr_tools.detector_v2.ssd_views import SsdInputs
    from webdetr_tools.teacher.ssdlite import SsdLite

    torch.set_num_threads(1)
    image = torch.rand(1, 3, 300, 300, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        tap19, tap10, tap5, boxes, logits = SsdInputs().eval()(image)
        ssd = SsdLite().eval()
        want_boxes, want_scores = ssd.decode(*ssd(image))
    assert tap19.shape == (1, 576, 19, 19) and tap10.shape == (1, 1280, 10, 10) and tap5.shape == (1, 512, 5, 5)
    assert boxes.shape == (1, 1917, 4) and logits.shape == (1, 1917, 80)
    assert (boxes - want_boxes).abs().max() < 1e-5
    assert (logits.sigmoid() - want_scores).abs().max() < 1e-5


def test_shipped_detector_graphs_have_no_equal_op_on_computed_values():
    """onnxruntime-web 1.30's WebGPU (JSEP) Equal gave wrong results inside the v3 encoder_input (every class logit
    lost on WebGPU while WASM was right), so the proposal ops are written without Equal; a re-export that brings one
    back fails here (the Node and browser suites run WASM only, and SwiftShader WebGPU takes minutes a frame). Equal
    on constants only (shape bookkeeping that onnxruntime folds when the session loads) is allowed."""
    import onnx

    package = REPO / "public" / "models" / "detector"
    manifest = json.loads((package / "manifest.json").read_text())
    if manifest["architecture"].get("backbone") != "ssdlite-mobilenetv2":
        pytest.skip("the shipped detector is not v3")
    for graph in manifest["graphs"]:
        nodes = onnx.load(str(package / graph["file"])).graph
        constant = {init.name for init in nodes.initializer}
        computed = []
        for node in nodes.node:  # topological order
            if all(name in constant for name in node.input if name):
                constant.update(node.output)
            elif node.op_type == "Equal":
                computed.append(node.name)
        assert computed == [], f"{graph['file']}: Equal on computed values: {computed}"


def test_anchor_base_logits_start_every_class_at_the_anchors_ssdlite_logit():
    """proposals.base_logits "anchor": step 0's 80 logits of each query are its anchor's SSDLite logits (the shipped
    "proposal_class" keeps only the proposal's class there); the exporter's prop_base follows the option."""
    from webdetr_tools.detector_v2.model_v3 import build_model_v3
    from webdetr_tools.detector_v2.proposals import Proposals
    from webdetr_tools.ship.detector_v2b_package import proposal_tensors

    config = json.loads((REPO / "tools" / "configs" / "detector_v3.json").read_text())
    config["model"]["proposals"]["base_logits"] = "anchor"
    model = build_model_v3(config)
    logits = torch.randn(1, 3, 80)
    labels = torch.tensor([[4, 7, 7]])
    p = Proposals(torch.rand(1, 3, 4), labels, logits.gather(2, labels[..., None])[..., 0], logits, None, (0, 0))
    assert torch.equal(model.base_logits(p), logits)
    assert torch.equal(proposal_tensors(model, p, torch.zeros(1, 3))[3], logits)
    config["model"]["proposals"]["base_logits"] = "proposal_class"
    base = build_model_v3(config).base_logits(p)
    assert base[0, 0, 4] == logits[0, 0, 4] and base[0, 0, 5] == -12.0
    config["model"]["proposals"]["base_logits"] = "both"
    with pytest.raises(ValueError, match="base_logits"):
        build_model_v3(config)


def test_class_agnostic_fast_nms_keeps_one_query_per_box_with_all_its_logits():
    """proposals.nms "class_agnostic" (v3j): anchors ranked by their best class, any higher anchor suppresses; a
    suppressed anchor that fills a slot brings no logits back (it would be a duplicate with base_logits "anchor")."""
    # A and B overlap (IoU 0.6) with different best classes, C is elsewhere; D is a second class on A's box.
    boxes = torch.tensor([[[0.0, 0.0, 0.4, 0.4], [0.1, 0.0, 0.5, 0.4], [0.6, 0.6, 0.9, 0.9]]])
    logits = torch.full((1, 3, 3), -9.0)
    logits[0, 0] = torch.tensor([2.0, 0.5, -9.0])  # A: class 0 best, class 1 second
    logits[0, 1, 2] = 1.0  # B: class 2
    logits[0, 2, 1] = 0.0  # C: class 1
    p = fast_nms_topk(boxes, logits, torch.arange(3), k=3, candidates=3, iou=0.5, class_agnostic=True)
    assert p.position[0].tolist() == [0, 2, 1] and p.labels[0].tolist() == [0, 1, 2]
    assert p.logit[0].tolist() == pytest.approx([2.0, 0.0, -12.0])
    assert torch.equal(p.class_logits[0, 0], logits[0, 0]) and torch.equal(p.class_logits[0, 1], logits[0, 2])
    assert (p.class_logits[0, 2] == -12.0).all()  # B, suppressed by A of another class
    per_class = fast_nms_topk(boxes, logits, torch.arange(3), k=3, candidates=3, iou=0.5)
    assert sorted(per_class.labels[0].tolist()) == [0, 1, 2] and (per_class.logit[0] > -12).sum() == 3  # A0, B2, A1

    config = json.loads((REPO / "tools" / "configs" / "detector_v3j.json").read_text())
    assert model_v3.build_model_v3(config).nms == "class_agnostic"
    config["model"]["proposals"]["nms"] = "soft"
    with pytest.raises(ValueError, match="proposals.nms"):
        model_v3.build_model_v3(config)
