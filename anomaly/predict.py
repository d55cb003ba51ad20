"""Load a fitted anomaly model and score images: image, list or folder -> records (score, is_anomalous,
heatmap overlay)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from shared.errors import DataError
from shared.images import expand_image_inputs, load_image

from . import models
from .config import AnomalyConfig
from .plots import overlay


class Predictor:
    def __init__(self, model, threshold: float, image_size: int, batch_size: int = 32):
        self.model, self.threshold, self.image_size, self.batch_size = model, threshold, image_size, batch_size

    def predict(self, images, heatmap_dir: str | Path | None = None) -> list[dict]:
        """{'image', 'score', 'is_anomalous', 'heatmap'} per readable image, {'image', 'error'} otherwise."""
        records, ready = [], []
        for path in expand_image_inputs(images):
            try:
                ready.append((len(records), load_image(path, 3, self.image_size)))
                records.append({"image": str(path)})
            except DataError as error:
                records.append({"image": str(path), "error": str(error)})
        if not ready:
            return records
        stack = np.stack([x for _, x in ready])
        scores, maps = models.score(self.model, (stack[i:i + self.batch_size] for i in range(0, len(stack), self.batch_size)))
        for k, ((slot, image), value) in enumerate(zip(ready, scores)):
            record = records[slot]
            record.update({"score": float(value), "is_anomalous": bool(value > self.threshold)})
            if heatmap_dir is not None and maps is not None:
                target = Path(heatmap_dir) / f"{Path(record['image']).stem}_heatmap.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(overlay(image, maps[k])).save(target)
                record["heatmap"] = str(target)
        return records


def load(run: str | Path) -> Predictor:
    import torch

    run = Path(run)
    if not (run / "model.pt").is_file():
        raise DataError(run, "no model.pt here: not a fitted anomaly run folder")
    config = AnomalyConfig.load(run / "config.json")
    threshold = json.loads((run / "threshold.json").read_text())["threshold"]
    return Predictor(torch.load(run / "model.pt", weights_only=False), threshold, config.image_size, config.batch_size)
