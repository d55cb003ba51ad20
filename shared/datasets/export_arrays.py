"""Export an index + split to numpy arrays (for Keras): uint8 NxHxWxC images and int class ids."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..suite.errors import DataError
from .images import load_image
from .index import class_names as index_class_names


class SideArrays(NamedTuple):
    x: np.ndarray            # uint8 N x H x W x C
    y: np.ndarray            # int64 class ids
    picture_ids: np.ndarray
    paths: np.ndarray        # the file each picture was read from


def to_arrays(index: pd.DataFrame, split: pd.Series, size: int | None = None, channels: int = 3,
              classes: list[str] | None = None, progress: bool = False, sides=None) -> dict:
    """{'classes': [...], 'train': SideArrays, 'valid': ..., 'test': ...} for the sides present (only `sides`
    when given: the others are not decoded). One image per picture (NEU-CLS copy preferred: lossless BMP).
    Images of other sizes need `size`."""
    classes = classes or index_class_names(index)
    class_id = {c: i for i, c in enumerate(classes)}
    rows = index.assign(side=split).sort_values("source", key=lambda s: s != "split-folders", kind="stable")
    rows = rows.drop_duplicates("picture_id").sort_values("image_id")
    if size is None and rows[["width", "height"]].drop_duplicates().shape[0] > 1:
        raise DataError(None, "images differ in size; pass size= to resize them to one square size")
    result: dict = {"classes": list(classes)}
    for side, group in rows.groupby("side"):
        if sides is not None and side not in sides:
            continue
        images = [load_image(p, channels, size) for p in tqdm(group["path"], desc=f"loading {side}",
                                                              disable=not progress or None)]
        labels = np.array([class_id.get(c, -1) for c in group["class_name"]], dtype=np.int64)
        if (labels < 0).any():
            unknown = sorted(set(group["class_name"]) - set(classes))
            raise DataError(None, f"classes not in the class list: {', '.join(unknown)}")
        result[side] = SideArrays(np.stack(images), labels, group["picture_id"].to_numpy(), group["path"].to_numpy())
    return result
