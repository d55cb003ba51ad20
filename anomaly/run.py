"""The anomaly run: evaluate on its test pictures (normal test + abnormal), or predict; `load(path)` opens a run
folder with the safe loader."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score, roc_curve

from shared.suite.memory_guard import peak_memory_mb
from shared.suite.run import Run

from . import models, plots
from .aspect import rescored
from .data import load_data
from .metrics import localization
from .options import PREDICT_OPTIONS
from .predict import AnomalyPredictor
from .recipe import AnomalyRecipe


def batches(images: np.ndarray, size: int):
    for start in range(0, len(images), size):
        yield images[start:start + size]


@dataclass
class AnomalyRun(Run):
    TASK = "anomaly"
    MODEL_FILE = "model.pt"
    FINAL_FILES = ("threshold.json",)
    PREDICT_OPTIONS = PREDICT_OPTIONS
    threshold: float = float("inf")

    def dataset(self, progress: bool = False):
        if self.data is None:
            self.data = load_data(self.recipe, progress=progress)
            self.check_same_data(self.data.info["data_fingerprint"])
        return self.data

    def build_predictor(self, onnx: bool, batch_size: int, heatmap: bool, int8: bool = False) -> AnomalyPredictor:
        """onnx: the exported model.onnx under ONNX Runtime (`defectlab anomaly export RUN`, texture-knn); int8: its
        INT8 quantized model.int8.onnx (`... export RUN int8=1`)."""
        model = self.model
        if onnx or int8:
            from shared.suite.quantize import INT8_FILE

            from .export import ONNX_FILE, OnnxAnomalyModel

            model = OnnxAnomalyModel(self.path / (INT8_FILE if int8 else ONNX_FILE))
        return AnomalyPredictor(model, self.threshold, self.recipe.image_size, self.recipe.backbone,
                                batch_size or self.recipe.batch_size, heatmap, self.recipe.map_aspect,
                                self.recipe.score_aspect)

    def score(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return models.score(self.model, batches(images, self.recipe.batch_size), self.recipe.backbone)

    def score_part(self, data, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores and maps of a part of the data view: maps from its squares, each non-square picture's score as
        the recipe's score_aspect says (anomaly.aspect)."""
        scores, maps = self.score(data.pixels(name))
        recipe = self.recipe
        if recipe.score_aspect != recipe.map_aspect:
            scores = rescored(scores, data.originals(name), recipe.image_size, recipe.score_aspect,
                              recipe.map_aspect, lambda inputs: self.score(inputs)[0])
        return scores, maps

    def evaluate(self, side: str = "test", progress: bool = False) -> dict:
        """Image AUROC, F1 at the stored threshold, pixel AUROC and PRO with masks, throughput and peak memory
        on the test pictures; writes metrics.json, scores.npz and plots."""
        if side != "test":
            raise ValueError(f"anomaly runs are scored on their test pictures (normal test + abnormal); the {side} "
                             "side holds normal pictures only, so AUROC is undefined there")
        data = self.dataset(progress)
        test = data.part("test")
        labels = test.label.to_numpy()
        if len(set(labels)) < 2:
            raise ValueError(f"{self.recipe.data}: the test pictures need both normal and abnormal ones for AUROC (with "
                             "every class normal, score the detector with `defectlab anomaly protocol` or "
                             "`defectlab evaluate`)")
        images = data.pixels("test")
        started = time.perf_counter()
        scores, maps = self.score_part(data, "test")
        seconds = time.perf_counter() - started
        fpr, tpr, _ = roc_curve(labels, scores)
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
        metrics = {
            "image_auroc": float(roc_auc_score(labels, scores)), "threshold": self.threshold,
            "f1_at_threshold": float(f1_score(labels, scores > self.threshold)),
            "normal_test": int((labels == 0).sum()), "abnormal_test": int((labels == 1).sum()),
            "roc": {"fpr": fpr[keep].round(4).tolist(), "tpr": tpr[keep].round(4).tolist()},
            "infer_images_per_second_cpu": round(len(images) / seconds, 1), "peak_memory_mb": peak_memory_mb(),
            "image_size": self.recipe.image_size,
            "resize_rule": f"pictures made square at image_size ({self.recipe.map_aspect}; scored: "
                           f"{self.recipe.score_aspect}); maps judged on each "
                           "picture's content stretched to image_size x image_size, masks resized (nearest) to it",
        }
        masks = None
        if maps is not None:
            maps = data.content_maps("test", maps)
            known, masks = data.masks(self.recipe.image_size)
            if (labels[known] == 1).any():
                metrics.update(localization(maps[known], masks[known], labels[known]))
        np.savez_compressed(self.path / "scores.npz", scores=scores, labels=labels, paths=test.path.to_numpy().astype(str),
                            maps=maps if maps is not None else np.zeros(0))
        metrics = self.write_metrics(metrics, side)
        plots.roc_png(metrics, self.plots_dir() / "roc.png")
        plots.extremes_png(data.contents("test"), scores, labels, maps, masks, self.plots_dir())
        return metrics

    def predictor(self, **options) -> AnomalyPredictor:
        """As every run's; calibration=NAME puts RUN/calibrations/NAME.json in force (anomaly.calibrate.apply)."""
        from shared.suite.options import resolve

        values = resolve(self.PREDICT_OPTIONS, options, f"{self.TASK} predict: ")
        name = values.pop("calibration")
        predictor = self.build_predictor(**values)
        if not name:
            return predictor
        from .calibrate import apply

        return apply(predictor, self, name, values)


def load(path: str | Path) -> AnomalyRun:
    recipe, classes, info = AnomalyRun.read_description(path, AnomalyRecipe)
    path = Path(path)
    threshold = json.loads((path / "threshold.json").read_text())["threshold"]
    model = models.load_model(recipe, path / AnomalyRun.MODEL_FILE)
    return AnomalyRun(path, recipe, classes, info, model=model, threshold=threshold)
