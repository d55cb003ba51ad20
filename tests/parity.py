"""What parity means when two runtimes, CPU kernels, batch sizes or thread counts compute the same model: floats
agree within a tolerance of their own scale, and boxes agree as a set (matched by class and IoU), never by rank:
another kernel changes the last digits, and near-equal boxes then come out in another order."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` (N, 4) with every box of `b` (M, 4), corners xyxy (torchvision's definition)."""
    import torch
    from torchvision.ops import box_iou as torch_box_iou

    return torch_box_iou(torch.as_tensor(a, dtype=torch.float64).reshape(-1, 4),
                         torch.as_tensor(b, dtype=torch.float64).reshape(-1, 4)).numpy()


def _matched(strong: list[dict], pool: list[dict], min_iou: float, conf_atol: float) -> list[str]:
    """What is wrong with matching each strong box to one box of the pool (same class, IoU, confidence)."""
    if not strong:
        return []
    if not pool:
        return [f"{len(strong)} strong box(es) have no counterpart at all"]
    iou = box_iou(np.array([[b[k] for k in BOX_KEYS] for b in strong]), np.array([[b[k] for k in BOX_KEYS] for b in pool]))
    same_class = np.array([[s["class"] == p["class"] for p in pool] for s in strong])
    score = np.where(same_class, iou, 0.0)
    rows, cols = linear_sum_assignment(score, maximize=True)
    problems = [f"strong box {i} has no counterpart" for i in sorted(set(range(len(strong))) - set(rows))]
    for i, j in zip(rows, cols):
        if score[i, j] < min_iou:
            problems.append(f"{strong[i]} best matched {pool[j]} at IoU {score[i, j]:.3f} (same class: "
                            f"{bool(same_class[i, j])})")
        elif abs(strong[i]["confidence"] - pool[j]["confidence"]) > conf_atol:
            problems.append(f"confidence {strong[i]['confidence']:.5f} vs {pool[j]['confidence']:.5f}")
    return problems


def strong_floor(boxes: list[dict], floor: float = 0.25) -> float:
    """The confidence from which boxes count: `floor`, or half the top confidence for a model trained too briefly to
    reach it (the tests' seconds-long smoke runs), so the comparison is never about the noise at the bottom."""
    top = max((b["confidence"] for b in boxes), default=0.0)
    return min(floor, 0.5 * top)


def assert_same_boxes(expected: list[dict], got: list[dict], min_conf: float = 0.25, min_iou: float = 0.9,
                      conf_atol: float = 1e-3) -> int:
    """Every box above `min_conf` on either side has a counterpart on the other of the same class, IoU >= min_iou
    and confidence within conf_atol, matched one-to-one (Hungarian on IoU). A counterpart may sit a fifth below
    min_conf: a box right at the floor can fall on either side of it (so boxes cut at a predictor's `conf` are
    compared from 1.2 x conf). Returns how many boxes of `expected` were strong."""
    problems = []
    for a, b, side in ((expected, got, "expected"), (got, expected, "got")):
        strong = [x for x in a if x["confidence"] >= min_conf]
        pool = [x for x in b if x["confidence"] >= 0.8 * min_conf]
        problems += [f"{side}: {p}" for p in _matched(strong, pool, min_iou, conf_atol)]
    assert not problems, "; ".join(problems[:5])
    return sum(x["confidence"] >= min_conf for x in expected)


def assert_close_to_scale(expected, got, rel: float = 1e-3) -> None:
    """|expected - got| within `rel` of the largest |expected| (element-wise, same shape)."""
    from shared.suite.onnx import scaled_difference

    difference = scaled_difference(expected, got)
    assert difference <= rel, f"largest difference is {difference:.3g} of the largest value (tolerance {rel:g})"


def assert_same_records(expected: dict, got: dict, rel: float = 1e-3, conf_cut: float = 0.25) -> None:
    """Two records of one task from two runtimes, batch sizes or kernels: numbers within `rel` of their size,
    boxes as a set (from 1.2 x the predictor's `conf_cut`), and the decisions a near-tie may flip (a class whose
    probability is within `rel` of the runner-up's, a flag whose score is within `rel` of its threshold) only where
    they are clear."""
    assert expected.keys() == got.keys(), (expected.keys(), got.keys())
    for key, want in expected.items():
        if key.startswith("_"):  # in-memory extras (maps, timings), not part of the answer
            continue
        have = got[key]
        if key == "explanation":  # a sentence made of the score and the peak, both compared below
            continue
        if key == "peak":  # the map's argmax: near-equal maxima may swap places; its value may not move
            assert abs(want["value"] - have["value"]) <= rel * max(1.0, abs(want["value"])) + 1e-4, (want, have)
        elif key == "boxes":
            assert_same_boxes(want, have, min_conf=1.2 * conf_cut)
        elif key == "class" and "probabilities" in expected:
            first, second = (sorted(expected["probabilities"].values(), reverse=True) + [0.0, 0.0])[:2]
            assert want == have or first - second <= 2 * rel, (want, have, first, second)
        elif key == "is_anomalous":
            near = abs(expected["score"] - expected["threshold"]) <= 2 * rel * max(1.0, abs(expected["threshold"]))
            assert want == have or near, (want, have, expected["score"], expected["threshold"])
        elif isinstance(want, dict):
            assert want.keys() == have.keys() and all(abs(want[k] - have[k]) <= rel * max(1.0, abs(want[k]))
                                                      for k in want), (key, want, have)
        elif isinstance(want, float):
            assert abs(want - have) <= rel * max(1.0, abs(want)), (key, want, have)
        else:
            assert want == have, (key, want, have)
