"""Export an index + split to class folders (<side>/<class>/<file>), the layout image classifiers read
(ultralytics -cls, torchvision ImageFolder, Keras image_dataset_from_directory)."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pandas as pd

from ..suite.errors import DataError

SIDE_FOLDER = {"train": "train", "valid": "val", "test": "test"}


def to_class_folders(index: pd.DataFrame, split: pd.Series, out_dir: str | Path,
                     sides: tuple[str, ...] = ("train", "valid")) -> dict[str, Counter]:
    """Copy the pictures of `sides` into out_dir/<train|val|test>/<class_name>/ (one file per picture:
    rows sharing a picture_id are written once). Returns {side: Counter(class -> files)}."""
    rows = index.assign(side=split.loc[index.index])
    rows = rows[rows["side"].isin(sides)].drop_duplicates("picture_id")
    if rows.empty:
        raise DataError(None, f"no pictures on the {'/'.join(sides)} side(s) of this split")
    if rows["class_name"].nunique() < 2:
        raise DataError(None, "class folders need at least two picture classes; this dataset has "
                              f"{rows['class_name'].nunique()}")
    out_dir = Path(out_dir)
    counts: dict[str, Counter] = {}
    for row in rows.itertuples():
        folder = out_dir / SIDE_FOLDER[row.side] / row.class_name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(row.path, folder / Path(row.path).name)
        counts.setdefault(row.side, Counter())[row.class_name] += 1
    return counts
