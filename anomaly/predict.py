"""The anomaly predictor: pictures (any size and shape, gray or RGB) -> score, is_anomalous and an anomaly map.
Pictures are made square at the model's input as the recipe's `map_aspect` says (letterbox: aspect kept, mirrored
fill; resize: stretched); the map is returned at the picture's own resolution. A non-square picture's score follows
`score_aspect` (tile: the largest score of square tiles along its longer side; anomaly.aspect).

Record (beside the shared `image`, `width`, `height` or `error`):
  score          anomaly score (higher = less like the normal pictures)
  is_anomalous   score > threshold (stored with the model, chosen on held-out normal pictures)
  threshold      that threshold
  peak           {x, y, value}: where the map is highest, in the picture's pixels (models with a map)
  explanation    one sentence: the score against the threshold and where the peak is
  calibration    the calibration in force (RUN/calibrations/NAME.json, predict option calibration=NAME); absent:
                 the training threshold
  _map           (in-process only) the anomaly map, height x width float array"""
from __future__ import annotations

import numpy as np
from PIL import Image

from shared.datasets.images import from_letterbox, to_square
from shared.suite.predictor import Predictor

from . import models
from .aspect import rescored
from .metrics import peak
from .plots import overlay


def explain(score: float, threshold: float, where: dict | None, width: int, height: int) -> str:
    verdict = (f"score {score:.3g} is above the threshold {threshold:.3g}: unlike the normal pictures"
               if score > threshold else f"score {score:.3g} is within the threshold {threshold:.3g}: like the normal pictures")
    if where is None:
        return verdict
    side = ("top" if where["y"] < height / 3 else "bottom" if where["y"] > 2 * height / 3 else "middle") + "-" + \
           ("left" if where["x"] < width / 3 else "right" if where["x"] > 2 * width / 3 else "centre")
    return f"{verdict}; the map peaks at x={where['x']}, y={where['y']} ({side})"


def png_base64(pixels: np.ndarray) -> str:
    import base64
    import io

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


class AnomalyPredictor(Predictor):
    task = "anomaly"

    def __init__(self, model, threshold: float, image_size: int, backbone: str, batch_size: int = 32,
                 heatmap: bool = False, aspect: str = "letterbox", score_aspect: str = "letterbox"):
        self.model, self.threshold, self.image_size, self.aspect = model, threshold, image_size, aspect
        self.score_aspect = score_aspect  # anomaly.aspect: non-square pictures may be scored by tiles
        self.backbone, self.batch_size, self.heatmap = backbone, batch_size, heatmap
        self.calibration = ""  # a calibration's name once anomaly.calibrate.apply puts it in force

    def predict_arrays(self, images: list[np.ndarray]) -> list[dict]:
        boxed = [to_square(i, self.image_size, self.aspect) for i in images]
        scores, maps = models.score(self.model, [np.stack([b[0] for b in boxed])], self.backbone)
        scores = rescored(scores, images, self.image_size, self.score_aspect, self.aspect,
                          lambda inputs: models.score(self.model, [inputs], self.backbone)[0])
        if self.watcher is not None:
            self.watcher.add(scores)
        records = []
        for k, (score, (_, placement)) in enumerate(zip(scores, boxed)):
            record = {"score": float(score), "is_anomalous": bool(score > self.threshold),
                      "threshold": float(self.threshold)}
            if self.calibration:
                record["calibration"] = self.calibration
            where = None
            if maps is not None:
                heat = from_letterbox(maps[k], placement)
                x, y = peak(heat)
                where = record["peak"] = {"x": x, "y": y, "value": round(float(heat[y, x]), 4)}
                record["_map"] = heat
                if self.heatmap:  # the service's answer carries the overlay as base64 PNG
                    record["heatmap_png"] = png_base64(overlay(images[k], heat))
            record["explanation"] = explain(float(score), float(self.threshold), where, *placement.original)
            records.append(record)
        return records

    def overlay_picture(self, record: dict, image: np.ndarray):
        """The heatmap over the picture at its own size (None without a map)."""
        if "_map" not in record:
            return None
        return Image.fromarray(overlay(image, record["_map"]))

    def draw(self, record: dict, image: np.ndarray):
        """The picture beside its heatmap overlay, at the picture's own size."""
        if "_map" not in record:
            return None
        h, w = image.shape[:2]
        canvas = Image.new("RGB", (2 * w, h))
        canvas.paste(Image.fromarray(image))
        canvas.paste(self.overlay_picture(record, image), (w, 0))
        return canvas
