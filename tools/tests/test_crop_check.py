import torch
import torch.nn.functional as F

from webdetr_tools.detector_v2.crop_check import CropCheck, crop_weights


def test_crop_weights_resample_like_interpolate_on_the_whole_picture():
    image = torch.rand(1, 3, 30, 40) * 255
    lo, hi = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    wy, wx = crop_weights(lo, hi, 12, 30), crop_weights(lo, hi, 16, 40)
    ours = torch.einsum("sh,chw,tw->cst", wy[0], image[0].double(), wx[0])
    reference = F.interpolate(image.double(), size=(12, 16), mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-9)


def test_crop_weights_of_a_pixel_aligned_crop_equal_interpolating_the_cut_out_pixels():
    image = torch.rand(1, 3, 30, 40, dtype=torch.float64)
    # pixels 6..17 (rows) and 8..27 (columns): edges on pixel boundaries, as a cut-out crop has them
    y0, y1, x0, x1 = 6 / 30, 18 / 30, 8 / 40, 28 / 40
    wy = crop_weights(torch.tensor([y0], dtype=torch.float64), torch.tensor([y1], dtype=torch.float64), 24, 30)
    wx = crop_weights(torch.tensor([x0], dtype=torch.float64), torch.tensor([x1], dtype=torch.float64), 10, 40)
    ours = torch.einsum("sh,chw,tw->cst", wy[0], image[0], wx[0])
    cut = image[:, :, 6:18, 8:28]
    reference = F.interpolate(cut, size=(24, 10), mode="bilinear", align_corners=False)[0]
    # inside the crop the two agree; at the crop's edges ours reads the neighbouring pixels (no clamping to the
    # cut-out), so compare the interior samples
    torch.testing.assert_close(ours[:, 1:-1, 1:-1], reference[:, 1:-1, 1:-1], rtol=0, atol=0.08)


class FixedClassifier(torch.nn.Module):
    """Answers a fixed probability row per crop, in crop order, and records the crops it saw."""

    def __init__(self, rows):
        super().__init__()
        self.rows = rows
        self.seen = None

    def forward(self, crops):
        self.seen = crops
        return self.rows[: len(crops)]


def mapping_3():
    # 4 ImageNet classes: 0 -> COCO 0 (person), 1 -> COCO 1, 2 -> COCO 2, 3 -> none
    m = torch.zeros(4, 3)
    m[0, 0] = m[1, 1] = m[2, 2] = 1
    return m


def logits_and_boxes():
    logits = torch.full((1, 4, 3), -12.0)
    logits[0, 0, 1] = 2.0  # best query: class 1
    logits[0, 1, 2] = 1.0  # second: class 2
    logits[0, 2, 0] = 0.5  # third: person
    logits[0, 3, 1] = -3.0  # not among the k = 3 checked
    boxes = torch.tensor([[[0.5, 0.5, 0.4, 0.4], [0.3, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.4], [0.5, 0.5, 1, 1]]])
    return logits, boxes


def test_a_confident_other_class_swaps_the_logits_and_nothing_else_moves():
    rows = torch.tensor(
        [
            [0.0, 0.02, 0.9, 0.08],  # query 0 (class 1): the classifier says class 2 -> relabel
            [0.0, 0.0, 0.95, 0.05],  # query 1 (class 2): agrees -> unchanged
            [0.0, 0.9, 0.0, 0.1],  # query 2 (person): person is never relabelled
        ]
    )
    logits, boxes = logits_and_boxes()
    check = CropCheck(FixedClassifier(rows), mapping_3(), k=3, size=8)
    out = check(torch.rand(1, 3, 20, 20) * 255, logits, boxes)
    expected = logits.clone()
    expected[0, 0, 1], expected[0, 0, 2] = -12.0, 2.0
    torch.testing.assert_close(out, expected)
    assert check.classifier.seen.shape == (3, 3, 8, 8)


def test_no_relabel_when_the_own_class_keeps_mass_or_the_best_is_not_confident():
    rows = torch.tensor(
        [
            [0.0, 0.06, 0.9, 0.04],  # own class keeps 0.06 >= 0.05
            [0.0, 0.5, 0.0, 0.5],  # best (class 1) only 0.5 < 0.6
            [0.8, 0.0, 0.0, 0.2],  # best is person
        ]
    )
    logits, boxes = logits_and_boxes()
    out = CropCheck(FixedClassifier(rows), mapping_3(), k=3, size=8)(torch.rand(1, 3, 20, 20) * 255, logits, boxes)
    torch.testing.assert_close(out, logits)


def test_crops_are_the_boxes_with_context_in_0_1():
    image = torch.zeros(1, 3, 40, 40)
    image[..., 10:30, 10:30] = 255  # a white square
    check = CropCheck(FixedClassifier(torch.zeros(1, 4)), mapping_3(), k=1, size=16, context=0.0)
    crops = check.crops(image, torch.tensor([[0.5, 0.5, 0.5, 0.5]]))  # exactly the square
    assert crops.shape == (1, 3, 16, 16)
    assert crops.min() >= 0.99 and crops.max() <= 1.0 + 1e-6
    wide = CropCheck(FixedClassifier(torch.zeros(1, 4)), mapping_3(), k=1, size=16, context=0.25)
    border = wide.crops(image, torch.tensor([[0.5, 0.5, 0.5, 0.5]]))
    assert border[..., 0, 0].max() < 0.01 and border[..., 8, 8].min() > 0.99  # context shows the black around


def test_roi_align_crops_equal_the_separable_bilinear_weights():
    image = torch.rand(1, 3, 30, 40, dtype=torch.float64) * 255
    boxes = torch.tensor([[0.5, 0.5, 0.4, 0.3], [0.2, 0.8, 0.3, 0.5], [0.5, 0.5, 1.2, 1.2]], dtype=torch.float64)
    check = CropCheck(FixedClassifier(torch.zeros(3, 4)), mapping_3(), k=3, size=12, context=0.1)
    crops = check.crops(image, boxes)
    cx, cy, w, h = boxes.unbind(-1)
    w, h = w * 1.2, h * 1.2
    wy = crop_weights((cy - h / 2).clamp(0, 1), (cy + h / 2).clamp(0, 1), 12, 30)
    wx = crop_weights((cx - w / 2).clamp(0, 1), (cx + w / 2).clamp(0, 1), 12, 40)
    reference = torch.einsum("ksh,chw,ktw->kcst", wy, image[0] / 255, wx)
    torch.testing.assert_close(crops, reference, rtol=0, atol=1e-9)


class _CropMeans(torch.nn.Module):
    """A stand-in classifier: each crop's three channel means spread over the 4 'ImageNet' classes."""

    def forward(self, crops):
        means = crops.mean((2, 3))
        return torch.softmax(torch.cat([means * 40, means[:, :1] * 0], 1), 1)


def test_the_package_plan_runs_the_crop_check_after_the_head_like_the_reference():
    from test_detector_v3v import _config, _StandInSsd

    from webdetr_tools.detector_v2 import model_v3
    from webdetr_tools.export.plan import run_plan
    from webdetr_tools.ship.detector_v2b_package import proposal_plan
    from webdetr_tools.ship.detector_v3_package import (
        V3CropCheckForward,
        V3EncoderInput,
        V3Forward,
        v3_dims,
        with_crop_check,
    )

    config = _config()
    model = model_v3.build_model_v3(config).eval()
    ssd = _StandInSsd()
    mapping = torch.zeros(4, 80)
    mapping[0, 14] = mapping[1, 15] = mapping[2, 16] = 1  # bird, cat, dog
    check = CropCheck(_CropMeans(), mapping, k=3, size=16, relabel_mass=0.3, own_mass=0.5).eval()
    image = torch.rand(1, 3, 300, 300, generator=torch.Generator().manual_seed(1)) * 255
    dims = v3_dims(model, config)
    plan = with_crop_check(proposal_plan(model, dims, V3EncoderInput(model, ssd, dims)), check)
    assert plan.segments["head"].outputs == ["head_logits", "pred_boxes"]
    assert plan.segments["crop_check"].inputs == ["image", "head_logits", "pred_boxes"]
    assert plan.pipelines[0].stages[-1] == ("graph", "crop_check")
    with torch.no_grad():
        out = run_plan(plan, {"image": image})
        logits, boxes = V3CropCheckForward(V3Forward(model, ssd), check)(image)
        plain, _ = V3Forward(model, ssd)(image)
    assert (out["pred_logits"] - logits).abs().max() < 1e-4
    assert (out["pred_boxes"] - boxes).abs().max() < 1e-5
    assert (logits - plain).abs().max() > 1.0  # the check did swap logits, and the plan reproduces it
