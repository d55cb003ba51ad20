"""From a dataset folder and a recipe to the classifier's data view: the dataset is read once, split once, and
each side is decoded the first time it is used (train + valid in training, test when it is evaluated)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from shared.datasets.export_arrays import SideArrays, to_arrays
from shared.datasets.index import class_names, read_dataset
from shared.datasets.report import ValidationReport
from shared.datasets.splits import make_split, split_sizes
from shared.suite.errors import DataError
from shared.suite.provenance import data_fingerprint


@dataclass
class ClassificationData:
    index: pd.DataFrame
    report: ValidationReport
    split: pd.Series
    classes: list[str]
    image_size: int
    progress: bool = False
    sides: dict[str, SideArrays] = field(default_factory=dict)

    def side(self, name: str) -> SideArrays:
        """uint8 N x S x S x 3 images + class ids of one side, decoded on first use."""
        if name not in self.sides:
            arrays = to_arrays(self.index, self.split, size=self.image_size, classes=self.classes,
                               progress=self.progress, sides=(name,))
            if name not in arrays:
                raise DataError(None, f"the split leaves no {name} pictures")
            self.sides[name] = arrays[name]
        return self.sides[name]

    def info(self, recipe) -> dict:
        """What the run records once: split, sizes, data fingerprint, dataset."""
        return {"split": recipe.split_name(), "sizes": split_sizes(self.split, self.index),
                "data_fingerprint": data_fingerprint(self.index), "dataset": str(recipe.data)}


def load_data(recipe, progress: bool = True) -> ClassificationData:
    """Read and split recipe.data, with clear errors before any training starts."""
    if not recipe.data:
        raise DataError(None, "no dataset given: pass data=PATH (a NEU copy or any class-folder dataset)")
    index, report = read_dataset(recipe.data, progress=progress)
    empty = report.of_kind("empty_class")
    if empty:
        raise DataError(empty[0].path, f"empty class folder ({len(empty)} in all); remove it or add images")
    if len(index) == 0:
        raise DataError(recipe.data, "no readable images")
    classes = class_names(index)
    if len(classes) < 2:
        raise DataError(recipe.data, f"need at least 2 classes to train a classifier, found {len(classes)}: {classes}")
    split = make_split(index, recipe.split, folds=recipe.folds, fold=recipe.fold, seed=recipe.seed,
                       valid_fraction=recipe.valid_fraction or 0.1)  # never select models on test
    for side in ("train", "valid"):
        if not (split == side).any():
            raise DataError(recipe.data, f"split {recipe.split!r} leaves no {side} pictures")
    return ClassificationData(index, report, split, classes, recipe.image_size, progress)
