"""From a dataset folder and a split (config) to arrays, with clear errors before any training starts."""
from __future__ import annotations

from shared.errors import DataError
from shared.export_arrays import to_arrays
from shared.index import class_names, read_dataset
from shared.splits import make_split


def load_dataset(config, progress: bool = True) -> dict:
    """{'classes', 'train', 'valid', 'test' (SideArrays), 'index', 'split', 'report'} for config.data."""
    if not config.data:
        raise DataError(None, "no dataset given: pass --data PATH (a NEU copy or any class-folder dataset)")
    index, report = read_dataset(config.data, progress=progress)
    empty = report.of_kind("empty_class")
    if empty:
        raise DataError(empty[0].path, f"empty class folder ({len(empty)} in all); remove it or add images")
    if len(index) == 0:
        raise DataError(config.data, "no readable images")
    classes = class_names(index)
    if len(classes) < 2:
        raise DataError(config.data, f"need at least 2 classes to train a classifier, found {len(classes)}: {classes}")
    split = make_split(index, config.split, folds=config.folds, fold=config.fold, seed=config.seed,
                       valid_fraction=config.valid_fraction)
    if not (split == "valid").any():  # never select models on test: carve a validation part from train
        split = make_split(index, config.split, folds=config.folds, fold=config.fold, seed=config.seed,
                           valid_fraction=0.1)
    arrays = to_arrays(index, split, size=config.image_size, classes=classes, progress=progress)
    for side in ("train", "valid"):
        if side not in arrays:
            raise DataError(config.data, f"split {config.split!r} leaves no {side} pictures")
    return {**arrays, "index": index, "split": split, "report": report}
