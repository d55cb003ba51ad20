"""Box fusion, classifier-guided scores and the shared mAP definition (detection.ensemble) on hand-made boxes."""
import numpy as np

from detection.ensemble import box_map, guide, recall_at
from detection.fusion import fuse

CLASSES = ["crazing", "inclusion"]
TRUTHS = [np.array([[0, 0.1, 0.1, 0.4, 0.5], [1, 0.6, 0.6, 0.9, 0.8]], np.float32),
          np.array([[1, 0.2, 0.2, 0.3, 0.9]], np.float32)]


def as_predictions(truths, conf=0.9):
    return [np.column_stack([t[:, 1:5], np.full(len(t), conf), t[:, 0]]).astype(np.float32) for t in truths]


def test_perfect_boxes_score_one_and_a_wrong_class_scores_zero():
    assert box_map(as_predictions(TRUTHS), TRUTHS, CLASSES)["map50_95"] > 0.99
    swapped = [p.copy() for p in as_predictions(TRUTHS)]
    for p in swapped:
        p[:, 5] = 1 - p[:, 5]
    assert box_map(swapped, TRUTHS, CLASSES)["map50"] < 0.01


def test_a_shifted_box_counts_at_iou_50_but_not_at_95():
    shifted = as_predictions(TRUTHS)
    shifted[1][0, 1] += 0.1  # the inclusion of picture 2: IoU 0.86
    result = box_map(shifted, TRUTHS, CLASSES)
    assert result["map50"] > 0.99 and result["per_class_ap50"]["inclusion"] > 0.99 and result["map50_95"] < 0.99


def test_fusing_a_model_with_itself_keeps_its_boxes():
    once = as_predictions(TRUTHS, conf=0.6)
    fused = fuse([once, once])
    for a, b in zip(once, fused):
        order = np.argsort(b[:, 5])
        assert np.allclose(a[np.argsort(a[:, 5])], b[order], atol=1e-6)


def test_a_box_only_one_model_found_is_damped():
    one = as_predictions(TRUTHS, conf=0.8)
    none = [np.zeros((0, 6), np.float32) for _ in TRUTHS]
    fused = fuse([one, none])
    assert np.allclose(fused[1][:, 4], 0.4)


def test_guided_scores_follow_the_classifier():
    predictions = as_predictions(TRUTHS, conf=0.5)
    probabilities = np.array([[0.9, 0.1], [0.0, 1.0]])
    guided = guide(predictions, probabilities)
    assert np.allclose(guided[0][:, 4], [0.45, 0.05]) and np.allclose(guided[1][:, 4], [0.5])
    assert np.allclose(predictions[0][:, 4], 0.5)  # the input is not changed
    assert recall_at(guided, TRUTHS, conf=0.25) == 2 / 3 and recall_at(predictions, TRUTHS, conf=0.25) == 1.0


def test_fusions_that_keep_the_best_box():
    strong = as_predictions(TRUTHS, conf=0.8)
    weak = [p.copy() for p in strong]  # each box's low-confidence neighbour from the same model: IoU 0.91
    for p in weak:
        p[:, 2] += 0.1 * (p[:, 2] - p[:, 0])
        p[:, 4] = 0.01
    model = [np.concatenate([s, w]) for s, w in zip(strong, weak)]
    none = [np.zeros((0, 6), np.float32) for _ in TRUTHS]
    for fusion in ("wbf-floor0.05", "nms"):  # the neighbour neither moves nor dilutes the good box
        assert box_map(fuse([model, model], iou_thr=0.7, fusion=fusion), TRUTHS, CLASSES)["map50_95"] > 0.99, fusion
    diluted = fuse([model, model], iou_thr=0.7)  # plain WBF: confidence (0.8 + 0.01) / 2
    assert np.allclose(np.sort(diluted[1][:, 4]), 0.405)
    assert np.allclose(fuse([model, none], iou_thr=0.7, fusion="wbf-max")[1][:, 4], 0.8)  # not damped either
    assert np.allclose(fuse([model, none], iou_thr=0.7, fusion="nms")[1][:, 4], 0.8)  # the neighbour suppressed
    empty = fuse([none, none], fusion="nms")
    assert all(e.shape == (0, 6) for e in empty)
    try:
        fuse([model, model], fusion="median")
    except ValueError as error:
        assert "median" in str(error) and "wbf-max" in str(error)
    else:
        raise AssertionError("an unknown fusion was accepted")
