"""In-domain backbone pretraining: train the matching YOLO classifier (yolov8n.yaml -> yolov8n-cls.yaml) on
the picture classes of the detector's own training side, then hand its weights to the detector, whose
backbone layers take every tensor whose name and shape match. No picture outside train/valid is seen."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from shared.datasets.export_classes import to_class_folders
from shared.suite.errors import DataError

from .offline import ultralytics_module


def classifier_yaml(detector_model: str) -> str:
    """yolov8n.yaml -> yolov8n-cls.yaml (same backbone widths and depths)."""
    if not detector_model.endswith(".yaml"):
        raise DataError(detector_model, "backbone pretraining starts from an architecture (.yaml), not weights")
    return detector_model[: -len(".yaml")] + "-cls.yaml"


def pretrain_backbone(config, index, split, run: Path, progress: bool = True) -> Path:
    """Train the classifier into run/pretrain and return its best weights (reused when already there)."""
    out = run / "pretrain"
    weights = out / "train" / "weights" / "best.pt"
    if weights.is_file():
        return weights
    started = time.perf_counter()
    counts = to_class_folders(index, split, out / "data")
    ul = ultralytics_module()
    model = ul.YOLO(classifier_yaml(config.model))
    model.train(data=str(out / "data"), epochs=config.pretrain_epochs, imgsz=config.image_size, batch=config.batch_size,
                workers=config.workers, device=config.device or None, cache=config.cache or False,
                seed=config.seed, deterministic=True, project=str(out), name="train", exist_ok=True,
                plots=False, verbose=progress, pretrained=False)
    shutil.rmtree(out / "data")
    (out / "pretrain.json").write_text(json.dumps(
        {"seconds": round(time.perf_counter() - started, 1), "model": classifier_yaml(config.model),
         "epochs": config.pretrain_epochs, "pictures": {s: dict(c) for s, c in counts.items()}}, indent=2) + "\n")
    return weights
