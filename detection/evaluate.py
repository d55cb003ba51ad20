"""evaluate(run, side) -> metrics dict (mAP50, mAP50-95, per-class AP50, precision, recall, PR curves,
confusion matrix); metrics JSON written with provenance, plots drawn from it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from shared.provenance import write_result

from . import plots
from .config import DetectorConfig
from .offline import ultralytics_module

YOLO_SPLIT = {"test": "test", "valid": "val", "train": "train"}


def metrics_from_validator(result, names: dict) -> dict:
    box = result.box
    present = [int(i) for i in box.ap_class_index]
    recall_grid, precision = result.curves_results[0][0], result.curves_results[0][1]
    keep = np.linspace(0, len(recall_grid) - 1, 101).astype(int)
    return {
        "map50": float(box.map50), "map50_95": float(box.map), "precision": float(box.mp), "recall": float(box.mr),
        "classes": [names[i] for i in sorted(names)],
        "per_class_ap50": {names[c]: float(box.ap50[k]) for k, c in enumerate(present)},
        "per_class_ap50_95": {names[c]: float(box.ap[k]) for k, c in enumerate(present)},
        "pr_curve": {"recall": recall_grid[keep].round(4).tolist(),
                     "precision": {names[c]: precision[k][keep].round(4).tolist() for k, c in enumerate(present)}},
        "confusion_matrix": result.confusion_matrix.matrix.astype(int).tolist(),
        "confusion_labels": [names[i] for i in sorted(names)] + ["background"],
    }


def evaluate(run: str | Path, side: str = "test", data_yaml: str | Path | None = None, index=None,
             tta: bool = False) -> dict:
    """Metrics of run/model.pt on one side of the run's data view; `tta` adds ultralytics' test-time
    augmentation (flips and scales) and writes tta_<side>_metrics.json instead."""
    run = Path(run)
    config = DetectorConfig.load(run / "config.json")
    ul = ultralytics_module()
    model = ul.YOLO(str(run / "model.pt"))
    data_yaml = Path(data_yaml or run / "data" / "data.yaml")
    result = model.val(data=str(data_yaml), split=YOLO_SPLIT[side], imgsz=config.imgsz, batch=config.batch,
                       device=config.device or None, plots=True, project=str(run),
                       name=f"val_{'tta_' if tta else ''}{side}", exist_ok=True, verbose=False,
                       workers=config.workers, augment=tta)
    metrics = {"split_side": side, "imgsz": config.imgsz, "tta": tta, **metrics_from_validator(result, model.names)}
    prefix = ("tta_" if tta else "") + ("" if side == "test" and not tta else f"{side}_")
    if index is None:
        from shared.index import read_dataset

        index, _ = read_dataset(config.data, progress=False)
    write_result(run / f"{prefix}metrics.json", metrics, split=f"{config.split} ({side})", index=index)
    (run / "plots").mkdir(exist_ok=True)
    plots.pr_curve_png(metrics, run / "plots" / f"{prefix}pr_curve.png")
    plots.confusion_png(metrics, run / "plots" / f"{prefix}confusion.png")
    return json.loads((run / f"{prefix}metrics.json").read_text())
