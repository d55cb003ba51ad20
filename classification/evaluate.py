"""evaluate(run, split) -> metrics dict; writes metrics JSON, confusion CSV/PNG, predictions, mistakes, grid."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from shared.provenance import write_result

from . import plots
from .config import ClassifierConfig
from .data import load_dataset
from .predict import load


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    y_pred = probabilities.argmax(axis=1)
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float((y_pred == y_true).mean()), "correct": int((y_pred == y_true).sum()), "n": int(len(y_true)),
        "classes": list(classes),
        "per_class": {c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for c, p, r, f, s in zip(classes, precision, recall, f1, support)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def evaluate(run: str | Path, split: str = "test", data: str | None = None, progress: bool = False,
             tta: bool = False) -> dict:
    """Score the run's model on one side ('test', 'valid' or 'train') of the split it was trained with;
    tta averages over the 8 flips / 90-degree turns (files get a 'tta_' prefix)."""
    run = Path(run)
    config = ClassifierConfig.load(run / "config.json")
    if data:
        config.data = data
    predictor = load(run)
    dataset = load_dataset(config, progress=progress)
    if split not in dataset:
        raise KeyError(f"split side {split!r} is empty for {config.split}")
    side = dataset[split]
    if list(dataset["classes"]) != predictor.classes:
        raise ValueError(f"dataset classes {dataset['classes']} differ from the model's {predictor.classes}")
    probabilities = predictor.predict_arrays(side.x, tta=tta)
    metrics = {"split_side": split, "tta": tta, **classification_metrics(side.y, probabilities, predictor.classes)}
    predictions = pd.DataFrame({
        "picture_id": side.picture_ids, "path": side.paths,
        "true": [predictor.classes[i] for i in side.y],
        "predicted": [predictor.classes[i] for i in probabilities.argmax(1)],
        "confidence": probabilities.max(1),
    })
    predictions["correct"] = predictions["true"] == predictions["predicted"]
    metrics["mistakes"] = predictions[~predictions["correct"]].drop(columns="correct").to_dict("records")
    prefix = ("tta_" if tta else "") + ("" if split == "test" else f"{split}_")
    predictions.to_csv(run / f"{prefix}predictions.csv", index=False)
    pd.DataFrame(metrics["confusion_matrix"], index=metrics["classes"], columns=metrics["classes"]) \
        .to_csv(run / f"{prefix}confusion.csv")
    split_name = config.split + (f" fold {config.fold}/{config.folds} seed {config.seed}" if config.split == "kfold" else "")
    write_result(run / f"{prefix}metrics.json", metrics, split=f"{split_name} ({split})", index=dataset["index"])
    (run / "plots").mkdir(exist_ok=True)
    plots.confusion_png(metrics, run / "plots" / f"{prefix}confusion.png")
    plots.prediction_grid_png(predictions, run / "plots" / f"{prefix}predictions.png")
    return json.loads((run / f"{prefix}metrics.json").read_text())
