"""train(config) -> run folder: export the split through shared's YOLO exporter, train ultralytics YOLO
(offline), keep the best weights as model.pt, then evaluate on test."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import yaml

from shared.errors import DataError
from shared.export_yolo import to_yolo_dataset
from shared.index import BOXED_SOURCES, read_dataset
from shared.splits import make_split

from .config import DetectorConfig
from .offline import ultralytics_module


def prepare_data(config: DetectorConfig, out_dir: Path):
    """(index, split, export): the YOLO view of config.data under out_dir, with a validation part carved from train."""
    index, report = read_dataset(config.data, progress=False)
    if not index["source"].isin(BOXED_SOURCES).any():
        raise DataError(config.data, "no box annotations found: detection needs a VOC layout (IMAGES/ + "
                                     "ANNOTATIONS/, such as NEU-DET) or a YOLO layout (images/, labels/, data.yaml)")
    split = make_split(index, config.split, folds=config.folds, fold=config.fold, seed=config.seed,
                       valid_fraction=config.valid_fraction)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    export = to_yolo_dataset(index, split, out_dir, val_side="valid" if (split == "valid").any() else "test")
    (out_dir / "export_report.json").write_text(json.dumps(
        {"images": export.images, "boxes": export.boxes, "changes": dict(export.changes),
         "validation_counts": report.counts()}, indent=2) + "\n")
    return index, split, export


def train(config: DetectorConfig, progress: bool = True) -> Path:
    if config.backbone and config.pretrain_epochs > 0:
        raise DataError(config.backbone, "an ImageNet backbone and in-domain pretraining are alternatives; pick one")
    run = Path(config.out).resolve() / config.run_name()
    if (run / "model.pt").is_file() and (run / "metrics.json").is_file():
        print(f"[detection] {run} is complete; delete it to train again")
        return run
    run.mkdir(parents=True, exist_ok=True)
    config.save(run / "config.json")
    started = time.perf_counter()
    index, split, export = prepare_data(config, run / "data")
    ul = ultralytics_module()
    last = run / "train" / "weights" / "last.pt"
    resume = last.is_file()
    pretrained = config.pretrained or False
    if config.pretrain_epochs > 0 and not resume:
        from .pretrain import pretrain_backbone

        pretrained = str(pretrain_backbone(config, index, split, run, progress=progress))
    architecture = config.model
    if config.backbone:
        from .lite_backbone import register, write_model_yaml

        register()  # ultralytics parses the architecture file, also when it resumes
        classes = len(yaml.safe_load(export.data_yaml.read_text())["names"])
        architecture = str(write_model_yaml(run / "model.yaml", config.backbone, classes, config.backbone_imagenet))
    model = ul.YOLO(str(last) if resume else architecture)
    model.train(data=str(export.data_yaml), epochs=config.epochs, imgsz=config.imgsz, batch=config.batch,
                patience=config.patience, workers=config.workers, device=config.device or None,
                cache=config.cache or False, seed=config.seed, deterministic=True, project=str(run), name="train",
                exist_ok=True, plots=True, verbose=progress, resume=resume, pretrained=pretrained, **config.extra)
    shutil.copyfile(run / "train" / "weights" / "best.pt", run / "model.pt")
    seconds = round(time.perf_counter() - started, 1)
    (run / "training.json").write_text(json.dumps({"train_seconds": seconds, "images": export.images,
                                                   "boxes": export.boxes}, indent=2) + "\n")
    from .evaluate import evaluate

    evaluate(run, "test", index=index)
    return run
