"""train(config) -> run folder: fit on normal images, choose the threshold on held-out normal images,
then evaluate on the test images (normal test + abnormal)."""
from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np

from shared.anomaly_folders import read_anomaly_folders
from shared.images import load_image

from . import models
from .config import AnomalyConfig
from .memory_guard import peak_memory_mb


def load_images(paths, size: int) -> np.ndarray:
    return np.stack([load_image(p, 3, size) for p in paths]) if len(paths) else np.zeros((0, size, size, 3), np.uint8)


def batches(images: np.ndarray, size: int):
    for start in range(0, len(images), size):
        yield images[start:start + size]


def split_normal(table, fraction: float, seed: int):
    """Normal training rows -> (fit rows, threshold-validation rows), seeded."""
    normal = table[table.role == "train"].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    n_valid = max(1, int(round(fraction * len(normal)))) if len(normal) > 1 else 0
    chosen = rng.permutation(len(normal))[:n_valid]
    is_valid = np.zeros(len(normal), bool)
    is_valid[chosen] = True
    return normal[~is_valid], normal[is_valid]


@contextlib.contextmanager
def _tqdm_disabled(disabled: bool):
    previous = os.environ.get("TQDM_DISABLE")
    if disabled:
        os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous


def train(config: AnomalyConfig, progress: bool = True) -> Path:
    import torch

    run = Path(config.out) / config.run_name()
    table, report = read_anomaly_folders(config.data)  # fails before anything is written
    run.mkdir(parents=True, exist_ok=True)
    config.save(run / "config.json")
    (run / "data_report.json").write_text(report.to_json() + "\n")
    fit_rows, valid_rows = split_normal(table, config.valid_fraction, config.seed)
    started = time.perf_counter()
    model = models.create_model(config)
    with _tqdm_disabled(not progress):  # anomalib's coreset selection draws its own progress bar
        models.fit(model, batches(load_images(list(fit_rows.path), config.image_size), config.batch_size),
                   config.coreset_ratio)
    fit_seconds = time.perf_counter() - started
    valid_scores, _ = models.score(model, batches(load_images(list(valid_rows.path), config.image_size), config.batch_size))
    threshold = float(np.quantile(valid_scores, config.threshold_quantile)) if len(valid_scores) else float("inf")
    torch.save(model, run / "model.pt")
    (run / "threshold.json").write_text(json.dumps({
        "threshold": threshold, "quantile": config.threshold_quantile, "normal_valid_images": int(len(valid_scores)),
        "normal_valid_scores": np.round(valid_scores, 5).tolist()}, indent=2) + "\n")
    (run / "training.json").write_text(json.dumps({
        "fit_seconds": round(fit_seconds, 1), "fit_images": int(len(fit_rows)),
        "peak_memory_mb": peak_memory_mb()}, indent=2) + "\n")
    from .evaluate import evaluate

    evaluate(run, table=table)
    return run
