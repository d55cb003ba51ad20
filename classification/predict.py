"""Load a run's model and name the defect in images: file, list, folder or arrays -> records."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from shared.errors import DataError
from shared.images import expand_image_inputs, load_image

from . import augment, models  # noqa: F401  (registers the custom layers for loading)


def dihedral_views(x: np.ndarray) -> list[np.ndarray]:
    """The 8 flips / 90-degree turns of a batch of square images (N x S x S x C)."""
    turns = [np.rot90(x, k, axes=(1, 2)) for k in range(4)]
    return [np.ascontiguousarray(v) for t in turns for v in (t, t[:, :, ::-1])]


class Predictor:
    def __init__(self, model: keras.Model, classes: list[str], image_size: int):
        self.model, self.classes, self.image_size = model, list(classes), image_size

    def predict_arrays(self, x: np.ndarray, batch_size: int = 32, tta: bool = False) -> np.ndarray:
        """uint8/float N x S x S x 3 (0..255) -> class probabilities N x C. tta averages the probabilities
        over the 8 flips and 90-degree turns of each image (surface defects have no preferred orientation)."""
        x = np.asarray(x, dtype="float32")
        views = dihedral_views(x) if tta else [x]
        probabilities = [np.asarray(keras.ops.softmax(self.model.predict(v, batch_size=batch_size, verbose=0), axis=-1))
                         for v in views]
        return np.mean(probabilities, axis=0)

    def _to_input(self, item) -> np.ndarray:
        if isinstance(item, np.ndarray):
            from PIL import Image

            gray = item if item.ndim == 2 else item[..., 0] if item.shape[-1] == 1 else None
            image = Image.fromarray(gray.astype(np.uint8)).convert("RGB") if gray is not None \
                else Image.fromarray(item.astype(np.uint8))
            return np.asarray(image.resize((self.image_size, self.image_size), Image.BILINEAR))
        return load_image(item, 3, self.image_size)

    def predict(self, images, batch_size: int = 32, tta: bool = False) -> list[dict]:
        """One record per input: {'image', 'class', 'confidence', 'probabilities'} or {'image', 'error'}.
        An unreadable file gets an error record; the rest of the batch goes on."""
        records, ready = [], []
        for number, item in enumerate(expand_image_inputs(images)):
            name = f"array[{number}]" if isinstance(item, np.ndarray) else str(item)
            try:
                ready.append((len(records), self._to_input(item)))
                records.append({"image": name})
            except DataError as error:
                records.append({"image": name, "error": str(error)})
        if ready:
            probs = self.predict_arrays(np.stack([x for _, x in ready]), batch_size, tta)
            for (slot, _), p in zip(ready, probs):
                best = int(np.argmax(p))
                records[slot].update({"class": self.classes[best], "confidence": float(p[best]),
                                      "probabilities": {c: float(v) for c, v in zip(self.classes, p)}})
        return records


def load(run: str | Path) -> Predictor:
    run = Path(run)
    if not (run / "model.keras").is_file():
        raise DataError(run, "no model.keras here: not a finished classification run folder")
    config = json.loads((run / "config.json").read_text())
    classes = json.loads((run / "classes.json").read_text())
    model = keras.saving.load_model(run / "model.keras", compile=False)
    return Predictor(model, classes, config["image_size"])
