"""The classifier check of pseudo-labels (detector_v2/crop_labels.py): when it relabels, drops or keeps a box."""
import numpy as np

from webdetr_tools.detector_v2.crop_labels import apply_decisions, decide
from webdetr_tools.teacher.coco80 import COCO80_NAMES

DOG, MOUSE, TOASTER, PERSON, TABLE, PIZZA = (
    COCO80_NAMES.index(n) for n in ("dog", "mouse", "toaster", "person", "dining table", "pizza")
)
RULE = {"relabel_mass": 0.6, "drop_animal_prob": 0.5}
MAPPING = np.full(1000, -1, np.int64)
MAPPING[[200, 201]] = DOG  # two dog breeds
MAPPING[859] = TOASTER
MAPPING[673] = MOUSE
MAPPING[963] = PIZZA
LION, ABACUS = 291, 398  # an animal and an object outside COCO


def probs(**mass):
    p = np.full(1000, 0.0)
    for index, value in mass.items():
        p[int(index[1:])] = value
    p[999] += 1 - p.sum()
    return p


def test_relabels_a_confident_different_class_and_keeps_agreement_and_doubt():
    box = [10, 10, 100, 80, 0.7, MOUSE]
    assert decide(probs(i859=0.84), MAPPING, box, [], RULE) == TOASTER
    assert decide(probs(i859=0.5), MAPPING, box, [], RULE) is None  # not confident enough
    assert decide(probs(i859=0.7, i673=0.1), MAPPING, box, [], RULE) is None  # its own class is plausible
    assert decide(probs(i673=0.9), MAPPING, box, [], RULE) is None  # agrees
    assert decide(probs(i200=0.4, i201=0.3), MAPPING, [*box[:5], PERSON], [], RULE) is None  # person boxes stay


def test_a_box_around_another_box_of_the_class_stays_and_non_coco_animals_are_dropped():
    table = [0, 0, 200, 200, 0.6, TABLE]
    pizza = [20, 20, 190, 180, 0.8, PIZZA]
    assert decide(probs(i963=0.9), MAPPING, table, [pizza], RULE) is None
    assert decide(probs(i963=0.9), MAPPING, table, [], RULE) == PIZZA
    dog = [5, 5, 50, 50, 0.8, DOG]
    assert decide(probs(i291=0.9), MAPPING, dog, [], RULE) == -1  # a lion called "dog"
    assert decide(probs(i291=0.4), MAPPING, dog, [], RULE) is None
    assert decide(probs(i398=0.9), MAPPING, dog, [], RULE) is None  # not an animal: no evidence against
    assert decide(probs(i291=0.6, i200=0.2), MAPPING, dog, [], RULE) is None  # dog still plausible


def test_apply_decisions_keeps_order_relabels_and_drops():
    rows = [[0, 0, 1, 1, 0.9, DOG], [0, 0, 2, 2, 0.5, MOUSE], [1, 1, 3, 3, 0.3, TABLE]]
    assert apply_decisions(rows, [-1, TOASTER, None]) == [[0, 0, 2, 2, 0.5, TOASTER], [1, 1, 3, 3, 0.3, TABLE]]
