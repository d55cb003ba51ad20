"""evaluate(run) -> metrics: image AUROC, F1 at the stored threshold, pixel AUROC (and PRO) with masks,
throughput and peak memory; writes metrics.json, scores.npz, ROC curve and heatmap overlays."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import f1_score, roc_auc_score, roc_curve

from shared.anomaly_folders import read_anomaly_folders
from shared.provenance import write_result

from . import models, plots
from .config import AnomalyConfig
from .memory_guard import peak_memory_mb
from .train import batches, load_images


def _mask(path, size: int) -> np.ndarray:
    if not isinstance(path, str):  # normal test images have no mask (None / NaN)
        return np.zeros((size, size), bool)
    return np.asarray(Image.open(path).convert("L").resize((size, size), Image.NEAREST)) > 127


def _pro(maps: np.ndarray, masks: np.ndarray) -> float | None:
    """Area under the per-region-overlap curve up to 30% FPR (anomalib's AUPRO), when it can be computed."""
    try:
        import torch
        from anomalib.metrics.aupro import _AUPRO

        metric = _AUPRO(fpr_limit=0.3)
        metric.update(torch.from_numpy(maps).float(), torch.from_numpy(masks).int())
        return float(metric.compute())
    except Exception:  # noqa: BLE001  (a missing or changed metric must not break evaluation)
        return None


def evaluate(run: str | Path, table=None) -> dict:
    import torch

    run = Path(run)
    config = AnomalyConfig.load(run / "config.json")
    if table is None:
        table, _ = read_anomaly_folders(config.data)
    test = table[table.role == "test"].reset_index(drop=True)
    if test.label.nunique() < 2:
        raise ValueError(f"{config.data}: the test images need both normal and abnormal ones for AUROC")
    model = torch.load(run / "model.pt", weights_only=False)
    threshold = json.loads((run / "threshold.json").read_text())["threshold"]
    images = load_images(list(test.path), config.image_size)
    started = time.perf_counter()
    scores, maps = models.score(model, batches(images, config.batch_size))
    seconds = time.perf_counter() - started
    labels = test.label.to_numpy()
    fpr, tpr, _ = roc_curve(labels, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    metrics = {
        "image_auroc": float(roc_auc_score(labels, scores)), "threshold": threshold,
        "f1_at_threshold": float(f1_score(labels, scores > threshold)),
        "normal_test": int((labels == 0).sum()), "abnormal_test": int((labels == 1).sum()),
        "roc": {"fpr": fpr[keep].round(4).tolist(), "tpr": tpr[keep].round(4).tolist()},
        "infer_images_per_second_cpu": round(len(images) / seconds, 1), "peak_memory_mb": peak_memory_mb(),
        "image_size": config.image_size, "resize_rule": "images bilinear and masks nearest to image_size x image_size",
    }
    with_masks = test["mask"].notna() | (test.label == 0)
    if maps is not None and test["mask"].notna().any():
        masks = np.stack([_mask(m, maps.shape[-1]) for m in test["mask"][with_masks]])
        chosen = maps[with_masks.to_numpy()]
        metrics["pixel_auroc"] = float(roc_auc_score(masks.reshape(-1), chosen.reshape(-1)))
        metrics["pixel_pro"] = _pro(chosen, masks)
    np.savez_compressed(run / "scores.npz", scores=scores, labels=labels, paths=test.path.to_numpy(),
                        maps=maps if maps is not None else np.zeros(0))
    write_result(run / "metrics.json", metrics, split=f"anomaly folders {config.data}")
    (run / "plots").mkdir(exist_ok=True)
    plots.roc_png(metrics, run / "plots" / "roc.png")
    plots.extremes_png(run / "scores.npz", config.image_size, run / "plots")
    return json.loads((run / "metrics.json").read_text())
