"""From a recipe to the detector's data view: the dataset is read once and split once (a validation part carved
from train for model selection), and written once as the YOLO folder ultralytics reads (run/data)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from shared.datasets.export_yolo import YoloExport, to_yolo_dataset
from shared.datasets.index import BOXED_SOURCES, read_dataset
from shared.datasets.report import ValidationReport
from shared.datasets.splits import make_split
from shared.suite.errors import DataError
from shared.suite.provenance import data_fingerprint


@dataclass
class DetectionData:
    index: pd.DataFrame
    report: ValidationReport
    split: pd.Series
    export: YoloExport
    classes: list[str]

    def info(self, recipe) -> dict:
        return {"split": recipe.split_name(), "sizes": dict(self.export.images), "boxes": self.export.boxes,
                "export_changes": dict(self.export.changes), "data_fingerprint": data_fingerprint(self.index),
                "dataset": str(recipe.data)}


def prepare_data(recipe, out_dir: Path, progress: bool = False) -> DetectionData:
    """The YOLO view of recipe.data under out_dir (replaced: the export is deterministic)."""
    if not recipe.data:
        raise DataError(None, "no dataset given: pass data=PATH (NEU-DET, a VOC or a YOLO folder)")
    index, report = read_dataset(recipe.data, progress=progress)
    if not index["source"].isin(BOXED_SOURCES).any():
        raise DataError(recipe.data, "no box annotations found: detection needs a VOC layout (IMAGES/ + "
                                     "ANNOTATIONS/, such as NEU-DET) or a YOLO layout (images/, labels/, data.yaml)")
    split = make_split(index, recipe.split, folds=recipe.folds, fold=recipe.fold, seed=recipe.data_seed(),
                       valid_fraction=recipe.valid_fraction)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    export = to_yolo_dataset(index, split, out_dir, val_side="valid" if (split == "valid").any() else "test")
    (out_dir / "export_report.json").write_text(pd.Series({
        "images": export.images, "boxes": export.boxes, "changes": dict(export.changes),
        "validation_counts": report.counts()}).to_json(indent=2) + "\n")
    names = yaml.safe_load(export.data_yaml.read_text())["names"]
    return DetectionData(index, report, split, export, [names[i] for i in sorted(names)])
