"""The classifier check of pseudo-labels (detector_v2/crop_labels.py): when it relabels, drops or keeps a box."""
import numpy as np
import pytest

from webdetr_tools.detector_v2.crop_labels import apply_decisions, coco_mass, decide, distil_rows
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


def test_a_precomputed_mass_gives_the_same_decisions():
    """label_sets passes the mass it also stores; decide must decide exactly as when it computes the mass itself."""
    box, table, pizza = [10, 10, 100, 80, 0.7, MOUSE], [0, 0, 200, 200, 0.6, TABLE], [20, 20, 190, 180, 0.8, PIZZA]
    cases = [
        (probs(i859=0.84), box, []),
        (probs(i859=0.7, i673=0.1), box, []),
        (probs(i963=0.9), table, [pizza]),
        (probs(i963=0.9), table, []),
        (probs(i291=0.9), [5, 5, 50, 50, 0.8, DOG], []),
    ]
    for p, row, others in cases:
        mass = coco_mass(p, MAPPING)
        assert decide(p, MAPPING, row, others, RULE, mass) == decide(p, MAPPING, row, others, RULE)


def test_apply_decisions_keeps_order_relabels_and_drops():
    rows = [[0, 0, 1, 1, 0.9, DOG], [0, 0, 2, 2, 0.5, MOUSE], [1, 1, 3, 3, 0.3, TABLE]]
    assert apply_decisions(rows, [-1, TOASTER, None]) == [[0, 0, 2, 2, 0.5, TOASTER], [1, 1, 3, 3, 0.3, TABLE]]


BIRD = COCO80_NAMES.index("bird")
DISTIL = {"distill": 0.5, "min_mass": 0.3, "same_box_iou": 0.7}


def test_distilled_rows_blend_the_classifier_and_merge_what_lands_on_one_object():
    dog = [10, 10, 100, 80, 0.8, DOG]
    bird = [11, 10, 100, 81, 0.5, BIRD]
    rows = distil_rows([dog, bird], [None, None], [[[BIRD, 0.9]], [[BIRD, 0.95]]], DISTIL)
    # the dog box becomes bird (0.5 * 0.9 + 0 vs 0.5 * 0.8 dog) and merges into the better bird row
    assert len(rows) == 1 and rows[0][5] == BIRD
    assert rows[0][4] == pytest.approx(0.5 * 0.5 + 0.5 * 0.95)
    assert rows[0][6][BIRD] == pytest.approx(rows[0][4]) and rows[0][6][DOG] == 0


def test_distillation_leaves_person_unchecked_and_out_of_coco_rows_and_drops_what_the_check_drops():
    person = [0, 0, 50, 100, 0.9, PERSON]
    unchecked = [60, 0, 90, 30, 0.2, MOUSE]
    outside = [100, 100, 150, 150, 0.6, TOASTER]
    lion = [200, 200, 260, 260, 0.7, DOG]
    rows = distil_rows(
        [person, unchecked, outside, lion], [None, None, None, -1], [[[DOG, 0.9]], None, [[MOUSE, 0.1]], []], DISTIL
    )
    assert rows == [person, outside, unchecked]


def test_distillation_gives_no_mass_to_a_class_that_a_nearby_box_holds():
    table = [0, 0, 200, 200, 0.6, TABLE]
    pizza = [20, 20, 160, 150, 0.8, PIZZA]  # IoU with the table 0.46: another object, not the same
    rows = distil_rows([pizza, table], [None, None], [None, [[PIZZA, 0.7], [TABLE, 0.2]]], DISTIL)
    table_row = [r for r in rows if r[:4] == table[:4]][0]
    assert table_row[5] == TABLE and table_row[6][PIZZA] == 0
    assert table_row[4] == pytest.approx(0.5 * 0.6 + 0.5 * 0.2)
