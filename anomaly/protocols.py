"""NEU protocols on the shared index: leave-one-class-out (fit on the other five classes' training pictures,
score all six classes' test pictures; the held-out class is novel) and one-class (fit on one class, the
other five are anomalous). Split kaggle-det: 240 train / 60 test pictures per class."""
from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path

from shared.export_anomaly import to_anomaly_folders
from shared.index import class_names, read_dataset
from shared.splits import make_split

from .config import AnomalyConfig
from .train import train


def run_protocol(data: str | Path, protocol: str, config: AnomalyConfig, out: str | Path, classes=None,
                 progress: bool = False) -> dict:
    """Fit one model per class under `protocol` ('loco' or 'one-class'); returns per-class and mean AUROC."""
    index, _ = read_dataset(data, progress=False)
    split = make_split(index, "kaggle-det")
    names = class_names(index)
    results = {}
    for name in classes or names:
        normal = [c for c in names if c != name] if protocol == "loco" else [name]
        folder = Path(out) / protocol / name
        to_anomaly_folders(index, split, folder / "data", normal, masks=True)
        run_config = dataclasses.replace(config, data=str(folder / "data"), out=str(folder), name="run")
        run = train(run_config, progress=progress)
        metrics = json.loads((run / "metrics.json").read_text())
        training = json.loads((run / "training.json").read_text())
        results[name] = {"image_auroc": metrics["image_auroc"], "f1_at_threshold": metrics["f1_at_threshold"],
                         "pixel_auroc": metrics.get("pixel_auroc"), "fit_seconds": training["fit_seconds"],
                         "infer_images_per_second_cpu": metrics["infer_images_per_second_cpu"],
                         "peak_memory_mb": max(training["peak_memory_mb"], metrics["peak_memory_mb"])}
        if progress:
            print(f"[{protocol}] {name}: image AUROC {metrics['image_auroc']:.3f}")
    return {"protocol": protocol, "per_class_auroc": {k: v["image_auroc"] for k, v in results.items()},
            "mean_auroc": statistics.mean(v["image_auroc"] for v in results.values()), "per_class": results}
