"""How a non-square picture meets the model's square input, per level (chosen on validation crops of NEU:
scripts/benchmarks/results/anomaly_aspect.json). The map, and the fit, use one square per picture (`map_aspect`:
letterbox, aspect kept with a mirrored fill, or resize, stretched). The image score uses that square too, or
(`score_aspect=tile`) square tiles along the longer side, the shorter side scaled to the input: the largest tile's
score, so a defect is seen at the scale of the fit pictures, neither shrunk nor stretched. A square picture is one
tile: every handling gives it the same input and score."""
from __future__ import annotations

import numpy as np

from shared.datasets.images import ASPECTS, to_square

SCORE_ASPECTS = (*ASPECTS, "tile")


def tiles(image: np.ndarray, size: int) -> tuple[list[np.ndarray], tuple[int, int], np.ndarray]:
    """Square tiles of the picture: the shorter side scaled to `size`, tiles along the longer one, evenly
    overlapping. Also the scaled (width, height) and each tile's start along the longer side."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = size / min(h, w)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    scaled = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR)) if (nw, nh) != (w, h) else image
    long = max(nw, nh)
    count = int(np.ceil(long / size))
    starts = np.linspace(0, long - size, count).round().astype(int) if count > 1 else np.array([0])
    cut = [scaled[:, s:s + size] if nw >= nh else scaled[s:s + size] for s in starts]
    return [np.ascontiguousarray(t) for t in cut], (nw, nh), starts


def score_inputs(image: np.ndarray, size: int, how: str) -> list[np.ndarray]:
    if how == "tile":
        return tiles(image, size)[0]
    return [to_square(image, size, how)[0]]


def rescored(scores: np.ndarray, pictures, size: int, how: str, map_how: str, score) -> np.ndarray:
    """The image scores of the map's squares, with each non-square picture scored again where the score's handling
    differs from the map's. pictures: the pictures (None where square or not needed); score: uint8 N x S x S x 3 ->
    N scores."""
    if how == map_how:
        return scores
    inputs, owners = [], []
    for k, picture in enumerate(pictures):
        if picture is not None and picture.shape[0] != picture.shape[1]:
            made = score_inputs(picture, size, how)
            inputs += made
            owners += [k] * len(made)
    if not inputs:
        return scores
    found, owners = np.asarray(score(np.stack(inputs))), np.asarray(owners)
    out = np.array(scores, dtype=float, copy=True)
    for k in np.unique(owners):
        out[k] = found[owners == k].max()
    return out.astype(np.asarray(scores).dtype)
