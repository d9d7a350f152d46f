"""The one-shot package plan (ship/oneshot_package.py) on a tiny model and a stand-in backbone, for crop
(UP-DETR) and RoI ('roi': boxes pooled from the image's taps) patch descriptors: one plan (and its graphs
traced at max_patches, as exported) runs K = 1, 3 and max_patches patches and equals the training model's
forward; a patch's results do not depend on the other patches; the package exports the patch count as a
dynamic axis (manifest symbol "patches", kernel queries "patches*G") with a valid manifest."""
import json

import math

import numpy as np
import onnx
import pytest
import torch

from fixtures.tiny_oneshot_package import PooledBackbone  # the stand-in backbone of the tiny one-shot fixture
from webdetr_tools.evaluation.coco_ap import box_iou
from webdetr_tools.export.package import write_package
from webdetr_tools.export.msda_core import ms_deform_attn_core
from webdetr_tools.export.plan import run_plan
from webdetr_tools.oneshot.model import OneShotConfig, OneShotDETR, group_mask
from webdetr_tools.oneshot.patches import roi_descriptors
from webdetr_tools.export.plan import run_stages
from webdetr_tools.ship.oneshot_package import (
    DESCRIBE,
    FROM_DESCRIPTORS,
    TAPS,
    ZOOM,
    block_mask,
    oneshot_plan,
    query_patch_section,
    reference_outputs,
)

CONFIG = dict(
    channels=[8, 16, 24],
    d_model=32,
    nheads=4,
    enc_layers=2,
    dec_layers=2,
    dim_feedforward=48,
    n_points=2,
    queries_per_patch=3,
    max_patches=10,
    patch_size=32,
    image_size=64,
)


# "-sized": the queries also take the patch sizes (patch_scale_input), from the same boxes input; "-prior": box sizes
# are relative to the patch's (box_size_prior), so patch_head reads the boxes input too
DESCRIPTORS = ["crop", "roi", "roi-calibrated", "roi-calibrated-sized", "roi-prior", "roi-calibrated-prior"]
CALIBRATION = [0.8, 1.5, -0.7, 2.0, -1.3, -0.6, -1.0]  # logit, cosine per tap, overlap with a stronger box, scale, bias


def _model(descriptor="crop"):
    torch.manual_seed(0)
    calibrated = "calibrated" in descriptor
    config = dict(
        CONFIG,
        patch_descriptor=descriptor.split("-")[0],
        roi_samples=3,
        score_calibration=CALIBRATION if calibrated else None,
        calibration_overlap=calibrated,
        calibration_scale=calibrated,
        patch_scale_input=descriptor.endswith("sized"),
        box_size_prior=descriptor.endswith("prior"),
    )
    model = OneShotDETR(OneShotConfig.from_dict(config)).eval()
    with torch.no_grad():  # away from the initialisation's zeros, so every term matters
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model, PooledBackbone(CONFIG["channels"]).eval()


MAX_PATCHES = CONFIG["max_patches"]


def _inputs(k, descriptor="crop"):
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, 64, 64, generator=g) * 255
    if descriptor.startswith("roi"):  # boxes xyxy in [0, 1]: corners sorted, some on the image's edges
        corners = torch.rand(1, k, 2, 2, generator=g)
        corners[0, 0] = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
        lo, hi = corners.min(2).values, corners.max(2).values + 0.01
        return image, torch.cat([lo, hi.clamp(max=1.0)], -1)
    patches = torch.rand(1, k, 3, 32, 32, generator=g) * 255
    return image, patches


def _level_shapes():
    return [(8, 8), (4, 4), (2, 2)]


def _description(model=None):
    patch = query_patch_section((model or _model()[0]).config.to_dict(), MAX_PATCHES)
    return {
        "model": {"family": "deformable-detr", "variant": "one-shot"},
        "input": {
            "sizePolicy": {"kind": "fixed", "height": 64, "width": 64},
            "resize": "bilinear-stretch",
            "mean": [0, 0, 0],
            "std": [1 / 255] * 3,
            "pixelScale": 255,
            "layout": "NCHW",
            "queryPatch": patch,
        },
        "output": {
            "logits": "pred_logits",
            "boxes": "pred_boxes",
            "classActivation": "sigmoid",
            "classNames": ["match"],
            "boxFormat": "cxcywh-normalized",
        },
        "architecture": {"hiddenDim": 32, "numQueries": 3, "encoderLayers": 2, "decoderLayers": 2, "numHeads": 4},
    }


@pytest.mark.parametrize("descriptor", DESCRIPTORS)
@torch.no_grad()
def test_one_plan_takes_any_patch_count_and_equals_the_training_forward(descriptor):
    model, backbone = _model(descriptor)
    plan = oneshot_plan(model, backbone, _level_shapes())  # built once (at max_patches), run at every K
    for k in (1, 3, MAX_PATCHES):
        image, patches = _inputs(k, descriptor)
        out = run_plan(plan, {"image": image, "patches": patches})
        logits, boxes = reference_outputs(model, backbone, image, patches)
        assert out["pred_logits"].shape == (1, 3 * k, 1) and out["pred_boxes"].shape == (1, 3 * k, 4)
        assert (out["pred_logits"] - logits).abs().max() <= 1e-5, k
        assert (out["pred_boxes"] - boxes).abs().max() <= 1e-5, k


@pytest.mark.parametrize("descriptor", [d for d in DESCRIPTORS if d.startswith("roi")])
@torch.no_grad()
def test_zoom_pipelines_pool_descriptors_in_one_view_and_decode_them_in_another(descriptor):
    """describe_patches after view A's image run, then patches_from_descriptors after view B's = the model decoding
    A's descriptors against B (webdetr_tools/oneshot/runtime_path.py ZoomedDetector: a window's query searched in
    every window).
    """
    model, backbone = _model(descriptor)
    plan = oneshot_plan(model, backbone, _level_shapes())
    pipelines = {p.name: p for p in plan.pipelines}
    view_a, boxes = _inputs(3, descriptor)
    view_b = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(7)) * 255
    tensors = run_stages(plan, pipelines["image"], {"image": view_a})
    descriptors = run_stages(plan, pipelines[DESCRIBE], dict(tensors, patches=boxes))["patch_descriptors"]
    tensors = run_stages(plan, pipelines["image"], {"image": view_b})
    feeds = {
        name: {"patch_descriptors": descriptors, "patches": boxes}[name] for name in pipelines[FROM_DESCRIPTORS].inputs
    }
    out = run_stages(plan, pipelines[FROM_DESCRIPTORS], dict(tensors, **feeds))
    levels_a, levels_b = backbone(view_a), backbone(view_b)
    want_desc = roi_descriptors(levels_a, boxes, 3)
    assert (descriptors - want_desc).abs().max() <= 1e-6
    logits, out_boxes = model.decode(model.encode(levels_b), model.spatial_shapes(levels_b), want_desc, boxes)
    want_logits = model.match_logits(levels_b, want_desc, logits[-1], out_boxes[-1], boxes)
    assert (out["pred_logits"] - want_logits).abs().max() <= 1e-5
    assert (out["pred_boxes"] - out_boxes[-1]).abs().max() <= 1e-5
    # the descriptors are view A's, not view B's (which the patches pipeline would pool)
    assert (want_desc - roi_descriptors(levels_b, boxes, 3)).abs().max() > 0.01


@torch.no_grad()
def test_calibration_combines_the_raw_logit_each_boxs_cosine_to_its_patch_its_overlap_and_its_scale():
    model, backbone = _model("roi-calibrated")
    model.bbox_embed.layers[-1].bias[2:] += 3.0  # large boxes: a group's boxes overlap, the overlap term counts
    image, boxes = _inputs(3, "roi")
    logits, out_boxes = reference_outputs(model, backbone, image, boxes)
    levels = backbone(image)
    descriptors = roi_descriptors(levels, boxes, 3)
    raw, _ = model.decode(model.encode(levels), model.spatial_shapes(levels), descriptors)
    # by hand for the weakest box of patch 2 (queries 6..8): the box's descriptor on the image, cosine per tap with
    # patch 2's, its largest IoU with a box of the group whose raw logit is higher, and |log| of its area over patch 2's
    group = range(2 * 3, 3 * 3)
    q = min(group, key=lambda j: float(raw[-1, 0, j, 0]))
    box = out_boxes[0, q]
    box_desc = roi_descriptors(
        levels,
        torch.stack([box[0] - box[2] / 2, box[1] - box[3] / 2, box[0] + box[2] / 2, box[1] + box[3] / 2])
        .clamp(0, 1)
        .view(1, 1, 4),
        3,
    )[0, 0]
    edges = [0, 8, 24, 48]
    cosines = [
        torch.nn.functional.cosine_similarity(box_desc[a:b], descriptors[0, 2, a:b], dim=0)
        for a, b in zip(edges, edges[1:])
    ]
    xyxy = np.array(
        [[b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2] for b in out_boxes[0].tolist()]
    )
    overlap = max([box_iou(xyxy[q], xyxy[j])[0, 0] for j in group if raw[-1, 0, j, 0] > raw[-1, 0, q, 0]], default=0.0)
    patch_area = float((boxes[0, 2, 2] - boxes[0, 2, 0]) * (boxes[0, 2, 3] - boxes[0, 2, 1]))
    scale = abs(math.log(float(box[2] * box[3]) / patch_area))
    want = (
        CALIBRATION[0] * raw[-1, 0, q, 0]
        + sum(w * c for w, c in zip(CALIBRATION[1:4], cosines))
        + CALIBRATION[4] * overlap
        + CALIBRATION[5] * scale
        + CALIBRATION[6]
    )
    assert abs(float(logits[0, q, 0] - want)) <= 1e-5
    assert overlap > 0.1 and scale > 0.1  # the terms are exercised


@torch.no_grad()
def test_block_mask_is_the_training_group_mask():
    for k in (1, 3, MAX_PATCHES):
        assert torch.equal(block_mask(torch.zeros(1, 3 * k, 8), 3), group_mask(k, 3))


def _traced_patch_pipeline(plan, feeds):
    """The patch pipeline's graph segments traced at max_patches (what torch.onnx exports), as a function of
    the patches; kernels stay PyTorch's reference core."""
    tensors = run_plan(plan, feeds)
    traced = {}
    for kind, item in plan.pipelines[1].stages:
        if kind == "graph":
            segment = plan.segments[item]
            traced[item] = torch.jit.trace(segment.module, tuple(tensors[n] for n in segment.inputs), check_trace=False)
    image_tensors = {
        n: t
        for n, t in tensors.items()
        if not n.startswith(("dec_tgt", "dec_q", "dec_r", "dec_o", "dec_l", "dec_c", "pred", "patches"))
    }

    def run(patches):
        values = dict(image_tensors, patches=patches)
        for kind, item in plan.pipelines[1].stages:
            if kind == "graph":
                segment = plan.segments[item]
                outputs = traced[item](*[values[n] for n in segment.inputs])
                values.update(zip(segment.outputs, outputs if isinstance(outputs, tuple) else (outputs,)))
            else:
                values[item.output] = ms_deform_attn_core(
                    values[item.value],
                    values[item.reference_points],
                    values[item.sampling_offsets],
                    values[item.attention_logits],
                    item.level_shapes,
                )
        return values["pred_logits"], values["pred_boxes"]

    return run


@pytest.mark.parametrize("descriptor", DESCRIPTORS)
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # nn.MultiheadAttention's own shape asserts
@torch.no_grad()
def test_graphs_traced_at_max_patches_run_any_count_and_patches_are_independent(descriptor):
    model, backbone = _model(descriptor)
    plan = oneshot_plan(model, backbone, _level_shapes())
    image, patches = _inputs(MAX_PATCHES, descriptor)
    run = _traced_patch_pipeline(plan, {"image": image, "patches": patches})
    for k in (1, 3, MAX_PATCHES):
        logits, boxes = run(patches[:, :k])
        want_logits, want_boxes = reference_outputs(model, backbone, image, patches[:, :k])
        assert logits.shape == (1, 3 * k, 1)
        assert (logits - want_logits).abs().max() <= 1e-5, k
        assert (boxes - want_boxes).abs().max() <= 1e-5, k
    # each of 3 patches' results = that patch run alone
    logits, boxes = run(patches[:, :3])
    for j in range(3):
        alone_logits, alone_boxes = run(patches[:, j : j + 1])
        assert (logits[:, 3 * j : 3 * j + 3] - alone_logits).abs().max() <= 1e-5, j
        assert (boxes[:, 3 * j : 3 * j + 3] - alone_boxes).abs().max() <= 1e-5, j


@pytest.mark.parametrize("descriptor", DESCRIPTORS)
def test_package_exports_with_a_dynamic_patch_axis(tmp_path, descriptor):
    model, backbone = _model(descriptor)
    image, patches = _inputs(MAX_PATCHES, descriptor)
    plan = oneshot_plan(model, backbone, _level_shapes())
    manifest = write_package(
        plan,
        {"image": image, "patches": patches},
        tmp_path,
        _description(model),
        single_graph=False,
        progress=lambda line: None,
    )
    roi = descriptor.startswith("roi")
    assert [p["name"] for p in manifest["pipelines"]] == (
        ["image", "patches", DESCRIBE, FROM_DESCRIPTORS] if roi else ["image", "patches"]
    )
    assert all(p["after"] == "image" for p in manifest["pipelines"][1:])
    assert manifest["input"]["queryPatch"]["maxPatches"] == MAX_PATCHES
    if roi:
        assert manifest["input"]["queryPatch"]["kind"] == "boxes"
        assert manifest["input"]["queryPatch"]["zoom"] == ZOOM
        assert manifest["tensors"]["patches"]["shape"] == [1, "patches", 4]
        # the image's taps come from encoder_input and are read by patch_descriptors, with no backbone of its own
        graphs = {g["name"]: g for g in manifest["graphs"]}
        assert graphs["encoder_input"]["outputs"][-3:] == TAPS and graphs["patch_descriptors"]["inputs"] == [
            "patches",
            *TAPS,
        ]
        assert graphs["patch_queries"]["inputs"] == ["patch_descriptors"] + (
            ["patches"] if descriptor.endswith("sized") else []
        )
        assert manifest["tensors"]["patch_descriptors"]["shape"] == [1, "patches", 8 + 16 + 24]
        assert [manifest["tensors"][t]["shape"] for t in TAPS] == [[1, 8, 8, 8], [1, 16, 4, 4], [1, 24, 2, 2]]
        # zoomed search: the two halves of the patches pipeline, over the same graphs
        pipelines = {p["name"]: p for p in manifest["pipelines"]}
        stages = [s.get("graph", s.get("name")) for s in pipelines["patches"]["stages"]]
        assert [s["graph"] for s in pipelines[DESCRIBE]["stages"]] == stages[:1] == ["patch_descriptors"]
        assert [s.get("graph", s.get("name")) for s in pipelines[FROM_DESCRIPTORS]["stages"]] == stages[1:]
        reads_boxes = descriptor.endswith(("sized", "prior")) or "calibrated" in descriptor
        assert pipelines[FROM_DESCRIPTORS]["inputs"] == ["patch_descriptors"] + (["patches"] if reads_boxes else [])
        ops = {n.op_type for n in onnx.load(str(tmp_path / "patch_descriptors.onnx")).graph.node}
        assert "MatMul" in ops and "Conv" not in ops
        # per-slot copies as Expand: the Loop that repeat_interleave over a dynamic K exports to, and ORT web's
        # ReduceMean (NHWC), cost 15.5 s of a 10-patch patch_head run (bench/FINDINGS.md)
        for graph in ("patch_descriptors", "patch_queries", "patch_head"):
            # no ReduceSum (the per-tap cosine sums are one MatMul) nor ReduceProd (the IoU's w * h); and box means
            # as MatMuls, not GridSample + AveragePool: ORT WebGPU runs GridSample in NHWC with a 4D Transpose of
            # each tap in and of the samples out, on every re-query
            slow = {n.op_type for n in onnx.load(str(tmp_path / f"{graph}.onnx")).graph.node} & {
                "ReduceMean",
                "Loop",
                "ReduceSum",
                "ReduceProd",
                "GridSample",
                "AveragePool",
            }
            assert not slow, (graph, slow)
        head = graphs["patch_head"]["inputs"]
        if "calibrated" in descriptor:  # the head compares each box with its patch's descriptor and size
            assert head[3:] == ["patch_descriptors", *TAPS, "patches"]
        elif descriptor.endswith("prior"):  # box sizes relative to the patch's: the head reads the boxes alone
            assert head[3:] == ["patches"]
        else:
            assert len(head) == 3
    else:
        assert "patch_descriptors" not in manifest["tensors"] and "zoom" not in manifest["input"]["queryPatch"]
        assert manifest["tensors"]["patches"]["shape"] == [1, "patches", 3, 32, 32]
    assert manifest["tensors"]["pred_logits"]["shape"] == [1, "patches*3", 1]
    assert manifest["tensors"]["dec_value_0"]["shape"] == [1, 84, 4, 8]  # the image memory: no patch axis
    kernels = [s for p in manifest["pipelines"][:2] for s in p["stages"] if s["kind"] == "msDeformAttn"]
    assert [k["queries"] for k in kernels] == [84, 84, "patches*3", "patches*3"]  # 8*8+4*4+2*2 tokens
    # every tensor of the patch pipeline but the borrowed image memory has the symbolic axis
    for name, spec in manifest["tensors"].items():
        if name.startswith(("dec_tgt", "dec_query", "dec_reference", "dec_offsets", "dec_logits", "dec_core", "pred_")):
            assert spec["shape"][1] == "patches*3", name
    # the ONNX graphs declare the axis as a symbol, and no constant of the traced query count is left
    for graph in ("patch_descriptors",) * roi + ("patch_queries", "patch_decoder_1", "patch_head"):
        proto = onnx.load(str(tmp_path / f"{graph}.onnx"))
        for value in list(proto.graph.input) + list(proto.graph.output):
            if value.name in manifest["tensors"] and value.name.startswith(
                ("patch", "dec_t", "dec_q", "dec_r", "pred")
            ):
                assert value.type.tensor_type.shape.dim[1].dim_param, (graph, value.name)
        for init in proto.graph.initializer:
            assert 3 * MAX_PATCHES not in init.dims, (graph, init.name, list(init.dims))
    assert json.loads((tmp_path / "manifest.json").read_text())["model"]["variant"] == "one-shot"
