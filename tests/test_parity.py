"""The parity checks themselves (tests/parity.py): order does not matter, a moved, relabelled, missing or
re-scored box does, and so does a difference beyond the output's scale."""
import numpy as np
import pytest
from parity import assert_close_to_scale, assert_same_boxes, assert_same_records, strong_floor


def box(cls, conf, x, y=10.0, w=40.0):
    return {"class": cls, "confidence": conf, "xmin": x, "ymin": y, "xmax": x + w, "ymax": y + w}


BOXES = [box("a", 0.90, 0), box("a", 0.900001, 100), box("b", 0.5, 50), box("b", 0.1, 150)]


def test_near_ties_in_another_order_are_the_same_boxes():
    swapped = [BOXES[1], BOXES[0], {**BOXES[2], "confidence": 0.5004}]  # the weak box fell under the floor
    assert assert_same_boxes(BOXES, swapped) == 3


@pytest.mark.parametrize("change", ["moved", "relabelled", "missing", "rescored", "extra"])
def test_a_real_difference_in_the_boxes_is_found(change):
    got = [dict(b) for b in BOXES]
    if change == "moved":
        got[2]["xmin"] += 8  # IoU 0.67
    elif change == "relabelled":
        got[0]["class"] = "b"
    elif change == "missing":
        del got[1]
    elif change == "rescored":
        got[2]["confidence"] = 0.52
    else:
        got.append(box("a", 0.6, 120, 120))
    with pytest.raises(AssertionError):
        assert_same_boxes(BOXES, got)


def test_the_floor_follows_a_weak_model():
    assert strong_floor(BOXES) == 0.25 and strong_floor([box("a", 0.02, 0)]) == pytest.approx(0.01)
    assert strong_floor([]) == 0


def test_floats_are_judged_against_their_scale():
    pixels = np.array([[0.0, 320.0], [12.5, 160.0]])
    assert_close_to_scale(pixels, pixels + 0.3)  # 1e-3 of 320 px
    with pytest.raises(AssertionError):
        assert_close_to_scale(pixels, pixels + 0.4)


def test_records_ignore_near_ties_but_not_clear_decisions():
    record = {"class": "a", "confidence": 0.5004, "probabilities": {"a": 0.5004, "b": 0.4996}}
    assert_same_records(record, {**record, "class": "b"})  # a coin toss either way
    clear = {"class": "a", "confidence": 0.9, "probabilities": {"a": 0.9, "b": 0.1}}
    with pytest.raises(AssertionError):
        assert_same_records(clear, {**clear, "class": "b"})
    flag = {"score": 2.0, "threshold": 1.0, "is_anomalous": True}
    with pytest.raises(AssertionError):
        assert_same_records(flag, {**flag, "is_anomalous": False})
