"""The anomaly predictor: pictures (any size, gray or RGB) -> score, is_anomalous and an anomaly map.

Record (beside the shared `image`, `width`, `height` or `error`):
  score          anomaly score (higher = less like the normal pictures)
  is_anomalous   score > threshold (stored with the model, chosen on held-out normal pictures)
  threshold      that threshold
  _map           (in-process only) the anomaly map, image_size x image_size float array"""
from __future__ import annotations

import numpy as np
from PIL import Image

from shared.datasets.images import resize_rgb
from shared.suite.predictor import Predictor

from . import models
from .plots import overlay


class AnomalyPredictor(Predictor):
    task = "anomaly"

    def __init__(self, model, threshold: float, image_size: int, backbone: str, batch_size: int = 32):
        self.model, self.threshold, self.image_size = model, threshold, image_size
        self.backbone, self.batch_size = backbone, batch_size

    def predict_arrays(self, images: list[np.ndarray]) -> list[dict]:
        stack = np.stack([resize_rgb(i, self.image_size) for i in images])
        scores, maps = models.score(self.model, [stack], self.backbone)
        return [{"score": float(s), "is_anomalous": bool(s > self.threshold), "threshold": float(self.threshold),
                 **({"_map": maps[k]} if maps is not None else {})} for k, s in enumerate(scores)]

    def heatmap(self, record: dict, image: np.ndarray):
        """The heatmap over the picture at the model's input size (None without a map)."""
        if "_map" not in record:
            return None
        return Image.fromarray(overlay(resize_rgb(image, self.image_size), record["_map"]))

    def draw(self, record: dict, image: np.ndarray):
        """The picture beside its heatmap overlay (at the model's input size)."""
        if "_map" not in record:
            return None
        small = resize_rgb(image, self.image_size)
        canvas = Image.new("RGB", (2 * self.image_size, self.image_size))
        canvas.paste(Image.fromarray(small))
        canvas.paste(Image.fromarray(overlay(small, record["_map"])), (self.image_size, 0))
        return canvas
