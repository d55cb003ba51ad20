"""From a dataset folder and a recipe to the classifier's data view: the dataset is read once, split once, and
each side is decoded the first time it is used (train + valid in training, test when it is evaluated).
Unlabelled pictures (an `unlabelled/` folder beside the class folders, or the train and valid pictures that
`labels_per_class` hides) form the `pool` side, whose class ids are -1: their labels are never read."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shared.datasets.export_arrays import SideArrays, to_arrays
from shared.datasets.index import UNLABELLED, class_names, read_dataset
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
        """uint8 N x S x S x 3 images + class ids of one side (-1 on the pool side), decoded on first use."""
        if name not in self.sides:
            index = self.index
            if name == "pool":  # hidden labels are blanked before decoding, so nothing downstream can read them
                index = index.assign(class_name=index["class_name"].where(self.split != "pool", UNLABELLED))
            arrays = to_arrays(index, self.split, size=self.image_size, classes=[*self.classes, UNLABELLED],
                               progress=self.progress, sides=(name,))
            if name not in arrays:
                raise DataError(None, f"the split leaves no {name} pictures")
            x, y, ids, paths = arrays[name]
            self.sides[name] = SideArrays(x, np.where(y == len(self.classes), -1, y), ids, paths)
        return self.sides[name]

    def has_valid(self) -> bool:
        return bool((self.split == "valid").any())

    def labelled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images, class ids, picture ids) of the train and valid sides together: what folds are cut from."""
        sides = [self.side("train")] + ([self.side("valid")] if self.has_valid() else [])
        return tuple(np.concatenate([getattr(s, f) for s in sides]) for f in ("x", "y", "picture_ids"))

    def has_pool(self) -> bool:
        return bool((self.split == "pool").any())

    def info(self, recipe) -> dict:
        """What the run records once: split, sizes, data fingerprint, dataset."""
        sizes = split_sizes(self.split, self.index)
        if self.has_pool():
            sizes["unlabelled"] = int(self.index.loc[self.split == "pool", "picture_id"].nunique())
        return {"split": recipe.split_name(), "sizes": sizes,
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
    unknown = sorted(set(recipe.classes) - set(classes))
    if unknown:
        raise DataError(recipe.data, f"classes not in the dataset: {', '.join(unknown)} (it has {', '.join(classes)})")
    classes = [c for c in classes if c in recipe.classes] if recipe.classes else classes
    if len(classes) < 2:
        raise DataError(recipe.data, f"need at least 2 classes to train a classifier, found {len(classes)}: {classes}")
    unlabelled = index["class_name"] == UNLABELLED
    split = pd.Series("pool", index=index.index, name="split")
    split[~unlabelled] = make_split(index[~unlabelled].reset_index(drop=True), recipe.split, folds=recipe.folds,
                                    fold=recipe.fold, seed=recipe.data_seed(),
                                    valid_fraction=recipe.valid_fraction or 0.1,
                                    valid_pick=recipe.valid_pick).to_numpy()  # never select on test
    if recipe.classes:  # split first: a kept picture's side does not depend on which classes are kept
        kept = (index["class_name"].isin(classes) | unlabelled).to_numpy()
        index, split = index[kept].reset_index(drop=True), split[kept].reset_index(drop=True)
    if recipe.labels_per_class:
        split = hide_labels(index, split, recipe.labels_per_class, recipe.data_seed())
    for side in ("train",) if recipe.labels_per_class else ("train", "valid"):
        if not (split == side).any():
            raise DataError(recipe.data, f"split {recipe.split!r} leaves no {side} pictures")
    return ClassificationData(index, report, split, classes, recipe.image_size, progress)


def hide_labels(index: pd.DataFrame, split: pd.Series, k: int, seed: int) -> pd.Series:
    """Keep k labelled train pictures per class (a seeded draw); the other train and valid pictures move to the
    pool, their labels hidden. How few labels are simulated on a fully labelled dataset."""
    pictures = index.assign(side=split).drop_duplicates("picture_id")
    train = pictures[pictures["side"] == "train"].sort_values("picture_id")
    rng = np.random.default_rng(seed)
    kept = set()
    for class_name, group in train.groupby("class_name", sort=True):
        if len(group) < k:
            raise DataError(None, f"labels_per_class={k}, but class {class_name!r} has {len(group)} train pictures")
        kept.update(group["picture_id"].to_numpy()[rng.choice(len(group), k, replace=False)])
    moved = split.isin(["train", "valid"]) & ~index["picture_id"].isin(kept)
    return split.where(~moved, "pool")
