"""Named, deterministic splits shared by every task. A split labels each index row 'train', 'valid' or
'test'; it is decided per picture, so both NEU copies of a picture and byte-identical twins always land
on the same side.

- kaggle-cls: per class, the first 12 NEU-CLS file names in lexicographic order are test, the next 12
  valid, the rest train (NEU: 1656/72/72), as in the Kaggle "NEU Metal Surface Defects Data" copy.
- kaggle-det: per class, the first 80% of pictures by number are train, the rest test (NEU: 1-240 train,
  241-300 test = 1440/360, the Kaggle NEU-DET train/validation folders).
- kfold: seeded stratified group k-fold; fold f is test, the other folds train.
- holdout: seeded stratified group hold-out of test_fraction.
- source: the split the files came with (folders or source_split.csv).
A split without a validation part of its own (all but kaggle-cls, and source when the files came without one)
carves a seeded, stratified, twin-aware validation part of `valid_fraction` out of its train part, so model
selection never looks at test. This is the one meaning of `valid_fraction` in every task. `valid_pick='last'`
carves each class's last train pictures by number instead: neighbouring NEU pictures look alike, so a random
validation part has near twins in train and flatters whatever is chosen or calibrated on it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..suite.errors import DataError
from . import neu

if TYPE_CHECKING:
    import pandas as pd  # imported where used: the recipes read SPLIT_NAMES when the CLI starts (pandas: ~1 s)

# the one list of split names: the recipes' and the CLI's choices and make_split's
SPLIT_NAMES = ("kaggle-cls", "kaggle-det", "kfold", "holdout", "source")
SIDES = ("train", "valid", "test")
VALID_PICKS = ("random", "last")
_PRIORITY = {"test": 0, "valid": 1, "train": 2}  # a twin group split by a rule joins its strictest side


def _pictures(index: pd.DataFrame) -> pd.DataFrame:
    return index.drop_duplicates("picture_id")[["picture_id", "class_name", "number", "twin_group"]].reset_index(drop=True)


def _cls_sort_key(row) -> str:
    if row.number >= 0 and row.class_name in neu.CLS_PREFIX:
        return neu.cls_file_name(row.class_name, row.number)
    return str(row.picture_id)


def _kaggle_cls(pictures: pd.DataFrame, n_test: int = 12, n_valid: int = 12) -> pd.Series:
    import pandas as pd

    sides = pd.Series("train", index=pictures.index)
    for class_name, group in pictures.groupby("class_name"):
        if len(group) <= n_test + n_valid:
            raise DataError(None, f"kaggle-cls needs more than {n_test + n_valid} pictures per class; "
                                  f"class {class_name!r} has {len(group)}")
        order = sorted(group.itertuples(), key=_cls_sort_key)
        sides[[r.Index for r in order[:n_test]]] = "test"
        sides[[r.Index for r in order[n_test:n_test + n_valid]]] = "valid"
    return sides


def _kaggle_det(pictures: pd.DataFrame, train_fraction: float = 0.8) -> pd.Series:
    import pandas as pd

    sides = pd.Series("test", index=pictures.index)
    for _, group in pictures.groupby("class_name"):
        order = group.sort_values(["number", "picture_id"]).index
        sides[order[: round(train_fraction * len(order))]] = "train"
    return sides


def _group_folds(pictures: pd.DataFrame, n_splits: int, seed: int) -> np.ndarray:
    """Fold number of each picture: stratified by class, twin groups kept whole."""
    from sklearn.model_selection import StratifiedGroupKFold

    if n_splits < 2:
        raise DataError(None, f"need at least 2 folds, got {n_splits}")
    if pictures["twin_group"].nunique() < n_splits:
        raise DataError(None, f"{n_splits} folds need at least {n_splits} pictures; got {len(pictures)}")
    folds = np.zeros(len(pictures), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for number, (_, held) in enumerate(splitter.split(pictures, pictures["class_name"], pictures["twin_group"])):
        folds[held] = number
    return folds


def _reconcile_twins(pictures: pd.DataFrame, sides: pd.Series) -> pd.Series:
    strictest = sides.groupby(pictures["twin_group"]).agg(lambda s: min(s, key=_PRIORITY.get))
    return pictures["twin_group"].map(strictest)


def make_split(index: pd.DataFrame, name: str, *, folds: int = 5, fold: int = 0, seed: int = 0,
               test_fraction: float = 0.2, valid_fraction: float = 0.0, valid_pick: str = "random") -> pd.Series:
    """Label every row of index with its side. Deterministic for the same index and arguments. valid_fraction
    carves a validation part out of train when the split has none of its own, picked at random (seeded) or, with
    valid_pick='last', each class's last train pictures by number."""
    import pandas as pd

    if valid_pick not in VALID_PICKS:
        raise DataError(None, f"unknown valid_pick {valid_pick!r}; choose one of {', '.join(VALID_PICKS)}")
    if name not in SPLIT_NAMES:
        raise DataError(None, f"unknown split {name!r}; choose one of {', '.join(SPLIT_NAMES)}")
    if len(index) == 0:
        raise DataError(None, "the index is empty: no images to split")
    pictures = _pictures(index)
    if name == "kaggle-cls":
        sides = _kaggle_cls(pictures)
    elif name == "kaggle-det":
        sides = _kaggle_det(pictures)
    elif name == "kfold":
        if not 0 <= fold < folds:
            raise DataError(None, f"fold must be in 0..{folds - 1}, got {fold}")
        sides = pd.Series(np.where(_group_folds(pictures, folds, seed) == fold, "test", "train"))
    elif name == "holdout":
        n_splits = max(2, round(1 / test_fraction))
        sides = pd.Series(np.where(_group_folds(pictures, n_splits, seed) == 0, "test", "train"))
    else:
        source = index.drop_duplicates("picture_id").set_index("picture_id")["source_split"]
        missing = source[source.isna()]
        if len(missing):
            raise DataError(None, f"split 'source' needs the split each file came with; "
                                  f"{len(missing)} pictures have none (e.g. {missing.index[0]})")
        sides = pd.Series(source.reindex(pictures["picture_id"]).to_numpy())
    sides = _reconcile_twins(pictures, sides)
    if valid_fraction > 0 and not (sides == "valid").any():
        carve = _carve_last if valid_pick == "last" else _carve_valid
        sides = carve(pictures, sides, valid_fraction, seed)
    by_picture = dict(zip(pictures["picture_id"], sides))
    return index["picture_id"].map(by_picture).rename("split")


def _carve_valid(pictures: pd.DataFrame, sides: pd.Series, fraction: float, seed: int) -> pd.Series:
    train = pictures[sides.to_numpy() == "train"]
    held = _group_folds(train, max(2, round(1 / fraction)), seed + 1) == 0
    sides = sides.copy()
    sides.loc[train.index[held]] = "valid"
    return sides


def _carve_last(pictures: pd.DataFrame, sides: pd.Series, fraction: float, seed: int) -> pd.Series:
    del seed  # deterministic: the order of the pictures decides
    sides = sides.copy()
    train = pictures[sides.to_numpy() == "train"]
    for _, group in train.groupby("class_name"):
        order = group.sort_values(["number", "picture_id"]).index
        sides.loc[order[len(order) - round(fraction * len(order)):]] = "valid"
    # a twin of a picked picture goes with it (all twins of a group were on the train side)
    picked = (sides == "valid").groupby(pictures["twin_group"]).transform("any")
    sides[picked & (sides == "train")] = "valid"
    return sides


def leaking_groups(index: pd.DataFrame, split: pd.Series) -> list[str]:
    """Twin groups (one picture in several files or copies) found on more than one side. Should be []."""
    sides = split.groupby(index["twin_group"]).nunique()
    return sorted(sides[sides > 1].index)


def split_sizes(split: pd.Series, index: pd.DataFrame) -> dict[str, int]:
    """Pictures per side (a picture read from both NEU copies counts once)."""
    per_picture = split.groupby(index["picture_id"]).first()
    return {side: int((per_picture == side).sum()) for side in SIDES if (per_picture == side).any()}
