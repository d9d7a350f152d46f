import numpy as np

from webdetr_tools.oneshot.synth_groups import nms_detections, paste_scene, pseudo_instances


def test_nms_keeps_one_box_per_class_and_object():
    dets = [
        [10, 10, 50, 50, 0.9, 1],
        [12, 11, 51, 50, 0.5, 1],  # duplicate of the first
        [12, 11, 51, 50, 0.6, 2],  # same place, another class: NMS is per class
        [100, 100, 140, 140, 0.4, 1],
    ]
    out = nms_detections(dets)
    assert out[:, 4].tolist() == [np.float32(0.9), np.float32(0.6), np.float32(0.4)]


def test_pseudo_instances_confidence_agreement_and_ignore():
    teacher = [
        [0, 0, 40, 40, 0.8, 3],  # confident
        [0, 0, 40, 40, 0.5, 7],  # the same object under another class: not a second instance, unsure as a 7
        [60, 0, 100, 40, 0.2, 3],  # fairly sure, SSDLite agrees -> instance
        [120, 0, 160, 40, 0.2, 3],  # fairly sure, no agreement -> ignore
        [200, 0, 240, 40, 0.05, 3],  # too weak to matter
        [300, 0, 304, 40, 0.9, 3],  # too thin for a query, but an object: ignored, not a negative
    ]
    ssdlite = [[61, 1, 100, 41, 0.7, 3], [400, 0, 440, 40, 0.6, 5]]
    boxes, classes, ig_boxes, ig_classes = pseudo_instances(teacher, ssdlite)
    assert boxes[:, 0].tolist() == [0, 60]
    assert classes.tolist() == [3, 3]
    assert sorted(zip(ig_boxes[:, 0].tolist(), ig_classes.tolist())) == [(0, 7), (120, 3), (300, 3), (400, 5)]


def test_paste_scene_is_seeded_and_pastes_inside_the_picture():
    background = np.full((240, 320, 3), 30, np.uint8)
    crop = np.zeros((40, 30, 3), np.uint8)
    crop[..., 0] = 250
    distractor = np.zeros((20, 50, 3), np.uint8)
    distractor[..., 2] = 250
    image, boxes, target = paste_scene(background, crop, distractor, np.random.RandomState(3))
    again, boxes_again, _ = paste_scene(background, crop, distractor, np.random.RandomState(3))
    assert np.array_equal(image, again) and np.array_equal(boxes, boxes_again)
    assert 2 <= target.sum() <= 6 and 1 <= (~target).sum() <= 2
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 320).all() and (boxes[:, 3] <= 240).all()
    for box, is_target in zip(boxes.astype(int), target):
        x0, y0, x1, y1 = box
        centre = image[(y0 + y1) // 2, (x0 + x1) // 2].astype(int)
        # red copies of the crop, blue copies of the distractor, jittered but not recoloured
        assert (centre[0] > 180) == bool(is_target) and (centre[2] > 180) == (not is_target)
        # feathered: a corner pixel no other paste covers is mostly background
        others = [b for b in boxes.astype(int) if not np.array_equal(b, box)]
        if not any(b[0] <= x0 < b[2] and b[1] <= y0 < b[3] for b in others):
            assert abs(int(image[y0, x0, 1]) - 30) < 10


def test_paste_scene_base_range_gives_big_copies_that_fit():
    background = np.full((240, 320, 3), 30, np.uint8)
    crop = np.full((60, 50, 3), 200, np.uint8)
    areas, counts = [], []
    for seed in range(20):
        _, boxes, target = paste_scene(
            background, crop, None, np.random.RandomState(seed), (1, 6), base_range=(0.15, 0.85)
        )
        assert 1 <= target.sum() <= 6
        assert (boxes[:, 2] <= 320).all() and (boxes[:, 3] <= 240).all()
        areas += ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (240 * 320)).tolist()
        counts.append(int(target.sum()))
    # the fixed-range scenes never exceed ~6 % of the picture; these reach a third and still mix in crowds
    assert max(areas) > 0.3 and min(areas) < 0.05 and max(counts) >= 4 and min(counts) == 1
