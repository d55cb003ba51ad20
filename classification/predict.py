"""The classifier's predictor: pictures (any size, gray or RGB) -> class, confidence and every probability.

Record (beside the shared `image`, `width`, `height` or `error`):
  class          the most probable class
  confidence     its probability
  probabilities  {class: probability} (sums to 1)
  energy         -logsumexp of the logits, higher for pictures unlike the training classes (Liu et al. 2020; the
                 mean over the views with tta); absent for an ensemble, whose outputs are log-probabilities"""
from __future__ import annotations

import keras
import numpy as np
from PIL import Image, ImageDraw
from scipy.special import logsumexp, softmax

from shared.datasets.images import resize_rgb
from shared.suite.predictor import Predictor

from . import augment, models  # noqa: F401  (registers the custom layers for loading)


def dihedral_views(x: np.ndarray) -> list[np.ndarray]:
    """The 8 flips / 90-degree turns of a batch of square images (N x S x S x C)."""
    turns = [np.rot90(x, k, axes=(1, 2)) for k in range(4)]
    return [np.ascontiguousarray(v) for t in turns for v in (t, t[:, :, ::-1])]


def mean_probabilities(views: list[np.ndarray]) -> np.ndarray:
    return np.mean([softmax(z, axis=-1) for z in views], axis=0)


class ClassifierPredictor(Predictor):
    task = "classification"

    def __init__(self, model: keras.Model, classes: list[str], image_size: int, tta: bool = False,
                 batch_size: int = 32, energy: bool = True):
        self.model, self.classes, self.image_size = model, list(classes), image_size
        self.tta, self.batch_size, self.energy = tta, batch_size, energy

    def logits(self, x: np.ndarray, tta: bool | None = None) -> list[np.ndarray]:
        """uint8/float N x S x S x 3 (0..255) -> the class logits N x C of each view: the picture itself, or with
        tta its 8 flips and 90-degree turns (surface defects have no preferred orientation)."""
        x = np.asarray(x, dtype="float32")
        views = dihedral_views(x) if (self.tta if tta is None else tta) else [x]
        return [np.asarray(self.model.predict(v, batch_size=self.batch_size, verbose=0), dtype="float64")
                for v in views]

    def probabilities(self, x: np.ndarray, tta: bool | None = None) -> np.ndarray:
        """Class probabilities N x C, the mean over the views (logits)."""
        return mean_probabilities(self.logits(x, tta))

    def predict_arrays(self, images: list[np.ndarray]) -> list[dict]:
        logits = self.logits(np.stack([resize_rgb(i, self.image_size) for i in images]))
        probabilities = mean_probabilities(logits)
        energy = -np.mean([logsumexp(z, axis=-1) for z in logits], axis=0)
        return [{"class": self.classes[int(p.argmax())], "confidence": float(p.max()),
                 "probabilities": {c: float(v) for c, v in zip(self.classes, p)},
                 **({"energy": float(e)} if self.energy else {})} for p, e in zip(probabilities, energy)]

    def csv_rows(self, record: dict) -> list[dict]:
        row = {k: v for k, v in record.items() if k != "probabilities"}
        return [row | {f"p_{c}": p for c, p in record.get("probabilities", {}).items()}]

    def draw(self, record: dict, image: np.ndarray):
        """The picture with its class and confidence written under it."""
        picture = Image.fromarray(image)
        scale = max(1, 256 // max(picture.size))
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
        canvas = Image.new("RGB", (picture.width, picture.height + 16), "white")
        canvas.paste(picture)
        ImageDraw.Draw(canvas).text((3, picture.height + 2), f"{record['class']} {record['confidence']:.1%}",
                                    fill="black")
        return canvas
