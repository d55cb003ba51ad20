"""Which unlabelled pictures to label first: pure functions over arrays (no model, no file), so the rule is
tested on its own.

1. Doubt: each signal (the models' uncertainty: 1 - the margin between the two most probable classes, or the
   entropy of the probabilities; 1 - the least sure box's confidence; novelty: the score over its threshold) is
   turned into its rank over the pool (0 lowest .. 1 highest, ties shared), and a picture's doubt is the mean of
   its ranks: signals on different scales count alike.
2. Diversity: the `shortlist` x budget most doubtful pictures are handed to k-center greedy on their features,
   which picks, one at a time, the picture farthest from every labelled and already chosen picture, so a batch is
   not six views of the same doubt. Without features the most doubtful pictures are taken in order; without
   signals k-center greedy runs over the whole pool, from its most typical picture (nearest the mean) when nothing
   is labelled yet."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Signal:
    name: str           # e.g. 'margin', 'entropy', 'box confidence', 'novelty'
    doubt: np.ndarray   # one value per picture, larger = more worth labelling; NaN = no answer (counts as middle)
    text: list[str]     # per picture, what the value says, e.g. 'margin 0.04 (crazing vs patches)'


@dataclass
class Pick:
    index: int          # position in the pool
    doubt: float        # mean rank of its signals, 0..1 (0.5 without signals)
    distance: float | None  # to the nearest labelled or earlier chosen picture (None without features)
    reason: str


def margin(probabilities: np.ndarray, classes: list[str]) -> Signal:
    """1 - (p1 - p2) of N x C probabilities: near 1 when the two most probable classes tie."""
    order = np.argsort(-probabilities, axis=1)
    rows = np.arange(len(probabilities))
    gap = probabilities[rows, order[:, 0]] - probabilities[rows, order[:, 1]]
    texts = [f"margin {g:.2f} ({classes[a]} vs {classes[b]})" for g, a, b in zip(gap, order[:, 0], order[:, 1])]
    return Signal("margin", 1 - gap, texts)


def entropy(probabilities: np.ndarray, classes: list[str]) -> Signal:
    """Entropy of N x C probabilities over log(C): 0 sure, 1 uniform."""
    p = np.clip(probabilities, 1e-12, 1)
    value = -(p * np.log(p)).sum(axis=1) / np.log(p.shape[1])
    top = probabilities.argmax(axis=1)
    return Signal("entropy", value, [f"entropy {v:.2f} (best {classes[t]})" for v, t in zip(value, top)])


def box_doubt(confidences: list[list[float]]) -> Signal:
    """1 - the least sure box's confidence per picture; a picture with no box at all counts as fully unsure."""
    value = np.array([1 - min(c) if c else 1.0 for c in confidences])
    texts = [f"least sure box {min(c):.2f} of {len(c)}" if c else "no box found" for c in confidences]
    return Signal("box confidence", value, texts)


def novelty(scores: np.ndarray, thresholds: np.ndarray) -> Signal:
    """score / threshold: above 1 the picture is unlike every picture the model was fitted on."""
    ratio = np.asarray(scores, float) / np.maximum(np.asarray(thresholds, float), 1e-12)
    return Signal("novelty", ratio, [f"novelty {r:.2f}x threshold" for r in ratio])


def ranks(values: np.ndarray) -> np.ndarray:
    """0 (lowest) .. 1 (highest), ties sharing their mean rank; NaN -> 0.5."""
    values = np.asarray(values, float)
    out = np.full(len(values), 0.5)
    known = ~np.isnan(values)
    if known.sum() > 1:
        v = values[known]
        position = np.empty(len(v))
        position[np.argsort(v, kind="stable")] = np.arange(len(v))
        _, inverse = np.unique(v, return_inverse=True)
        mean_position = np.bincount(inverse, weights=position) / np.bincount(inverse)
        out[known] = mean_position[inverse] / (len(v) - 1)
    return out


def k_center_greedy(features: np.ndarray, k: int, centres: np.ndarray | None = None,
                    candidates: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Pick k of the candidate rows of features (default all), each the farthest (Euclidean) from the centres
    and the rows picked before it; without centres the first candidate starts. Returns (rows, the distance of
    each at its pick; inf for a first pick with no centre)."""
    features = np.asarray(features, float)
    candidates = np.arange(len(features)) if candidates is None else np.asarray(candidates)
    k = min(k, len(candidates))
    points = features[candidates]
    nearest = np.full(len(candidates), np.inf)
    if centres is not None and len(centres):
        for centre in np.asarray(centres, float):
            nearest = np.minimum(nearest, np.linalg.norm(points - centre, axis=1))
    chosen, distances = [], []
    for _ in range(k):
        pick = 0 if not chosen and np.isinf(nearest).all() else int(np.argmax(nearest))
        chosen.append(int(candidates[pick]))
        distances.append(float(nearest[pick]))
        nearest = np.minimum(nearest, np.linalg.norm(points - points[pick], axis=1))
        nearest[pick] = -1.0  # never again
    return chosen, distances


def rank(signals: list[Signal], budget: int, features: np.ndarray | None = None,
         labelled: np.ndarray | None = None, shortlist: float = 3.0) -> list[Pick]:
    """The `budget` pictures to label first, in order, each with its reason (see the module doc). features:
    N x D of the pool; labelled: M x D of pictures labelled already (k-center greedy's first centres)."""
    n = len(signals[0].doubt) if signals else (len(features) if features is not None else 0)
    if n == 0 or budget <= 0:
        return []
    per_signal = [ranks(s.doubt) for s in signals]
    doubt = np.mean(per_signal, axis=0) if per_signal else np.full(n, 0.5)
    order = np.argsort(-doubt, kind="stable")
    if features is None:
        chosen, distances = [int(i) for i in order[:budget]], [None] * min(budget, n)
    else:
        features = np.asarray(features, float)
        keep = order[:max(budget, int(np.ceil(shortlist * budget)))] if signals else \
            np.argsort(np.linalg.norm(features - features.mean(axis=0), axis=1), kind="stable")  # typical first
        chosen, distances = k_center_greedy(features, budget, labelled, keep)
    scale = _spread(features)
    picks = []
    for i, distance in zip(chosen, distances):
        parts = [f"{s.text[i]} (#{1 + int(np.sum(s.doubt > s.doubt[i]))} of {n})" for s in signals]
        if distance is not None:
            first = "the most doubtful" if signals else "the pool's most typical picture"
            parts.append(f"first pick: {first}" if np.isinf(distance) else
                         f"new look: {distance / scale:.2f} of the pool's spread from the nearest labelled or chosen "
                         "picture")
        picks.append(Pick(i, float(doubt[i]), None if distance is None or np.isinf(distance) else float(distance),
                          "; ".join(parts) or "no model answer: chosen for diversity"))
    return picks


def _spread(features: np.ndarray | None) -> float:
    """The pool's typical distance to its mean (to state a distance as a share of it)."""
    if features is None or len(features) == 0:
        return 1.0
    features = np.asarray(features, float)
    return float(np.linalg.norm(features - features.mean(axis=0), axis=1).mean()) or 1.0
