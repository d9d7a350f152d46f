"""CenterNet teacher decoding, on hand-built heatmaps (the full model was checked against tfjs, see
tools/webdetr_tools/backbones/README.md)."""
import torch

from webdetr_tools.teacher.centernet_teacher import decode


def test_decode_keeps_peaks_and_maps_nhwc_order_to_boxes():
    keypoints = torch.zeros(1, 3, 8, 8)
    keypoints[0, 2, 5, 1] = 0.9  # class 2 at y=5, x=1
    keypoints[0, 2, 5, 2] = 0.8  # neighbour of a stronger peak: suppressed by the 3x3 max-pool
    keypoints[0, 0, 0, 7] = 0.7  # class 0 at y=0, x=7
    wh = torch.zeros(1, 4, 8, 8)
    wh[0, :, 5, 1] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    rows = decode(keypoints, wh, k=3)
    assert rows[0].tolist() == [4 * 1 - 1.0, 4 * 5 - 2.0, 4 * 1 + 3.0, 4 * 5 + 4.0, 0.8999999761581421, 2.0]
    assert rows[1, 4].item() == torch.tensor(0.7).item() and rows[1, 5].item() == 0
    assert rows[1, :4].tolist() == [28.0, 0.0, 28.0, 0.0]
    assert rows[2, 4].item() == 0.0  # the suppressed neighbour scores 0, not 0.8
