"""The classification run: evaluate on a side of its split, or predict; `load(path)` opens a run folder."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from shared.suite.run import Run

from . import plots
from .data import load_data
from .options import PREDICT_OPTIONS
from .predict import ClassifierPredictor
from .recipe import ClassifierRecipe


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    y_pred = probabilities.argmax(axis=1)
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float((y_pred == y_true).mean()), "correct": int((y_pred == y_true).sum()), "n": len(y_true),
        "classes": list(classes),
        "per_class": {c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for c, p, r, f, s in zip(classes, precision, recall, f1, support)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


@dataclass
class ClassifierRun(Run):
    TASK = "classification"
    MODEL_FILE = "model.keras"
    PREDICT_OPTIONS = PREDICT_OPTIONS

    def dataset(self, progress: bool = False):
        """The live data view (from training), else the dataset read once now."""
        if self.data is None:
            self.data = load_data(self.recipe, progress=progress)
            self.check_same_data(self.data.info(self.recipe)["data_fingerprint"])
            if list(self.data.classes) != list(self.classes):
                raise ValueError(f"dataset classes {self.data.classes} differ from the model's {self.classes}")
        return self.data

    def build_predictor(self, tta: bool, batch_size: int, onnx: bool, int8: bool = False) -> ClassifierPredictor:
        """onnx: the exported model.onnx under ONNX Runtime (`defectlab classification export RUN`); int8: its
        INT8 quantized model.int8.onnx (`... export RUN int8=1`)."""
        model = self.model
        if onnx or int8:
            from shared.suite.quantize import INT8_FILE

            from .export import ONNX_FILE, OnnxClassifier

            model = OnnxClassifier(self.path / (INT8_FILE if int8 else ONNX_FILE))
        # an ensemble leaves the model as log-probabilities: their energy is 0 whatever the picture
        return ClassifierPredictor(model, self.classes, self.recipe.image_size, tta, batch_size,
                                   energy=self.model.name != "ensemble")

    def evaluate(self, side: str = "test", tta: bool = False, progress: bool = False) -> dict:
        """Accuracy, per-class precision / recall / F1, confusion matrix, mistakes on one side of the run's split;
        writes [tta_][side_]metrics.json, predictions.csv, confusion.csv and plots."""
        arrays = self.dataset(progress).side(side)
        probabilities = self.predictor().probabilities(arrays.x, tta)
        metrics = classification_metrics(arrays.y, probabilities, self.classes)
        predictions = pd.DataFrame({
            "picture_id": arrays.picture_ids, "path": arrays.paths,
            "true": [self.classes[i] for i in arrays.y],
            "predicted": [self.classes[i] for i in probabilities.argmax(1)],
            "confidence": probabilities.max(1),
        })
        predictions["correct"] = predictions["true"] == predictions["predicted"]
        metrics["mistakes"] = predictions[~predictions["correct"]].drop(columns="correct").to_dict("records")
        predictions.to_csv(self.file("predictions.csv", side, tta), index=False)
        pd.DataFrame(metrics["confusion_matrix"], index=self.classes, columns=self.classes) \
            .to_csv(self.file("confusion.csv", side, tta))
        metrics = self.write_metrics(metrics, side, tta)
        plots.confusion_png(metrics, self.plots_dir() / Path(self.file("confusion.png", side, tta)).name)
        plots.prediction_grid_png(predictions, arrays.x, self.plots_dir() / Path(self.file("predictions.png", side, tta)).name)
        return metrics


def load(path: str | Path) -> ClassifierRun:
    import keras

    from . import augment, models  # noqa: F401  (registers the custom layers; safe_mode stays on)

    recipe, classes, info = ClassifierRun.read_description(path, ClassifierRecipe)
    model = keras.saving.load_model(Path(path) / ClassifierRun.MODEL_FILE, compile=False)
    return ClassifierRun(Path(path), recipe, classes, info, model=model)
