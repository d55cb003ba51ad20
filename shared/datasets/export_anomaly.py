"""Export an index + split to an anomalib Folder layout for one protocol:
normal/train, normal/test, abnormal/, masks/ (box masks of abnormal pictures, same stem, PNG 0/255)
and protocol.json. Use with anomalib.data.Folder(normal_dir='normal/train', normal_test_dir='normal/test',
abnormal_dir='abnormal', mask_dir='masks')."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..suite.errors import DataError
from .boxes import clean_boxes
from .index import BOXED_SOURCES


@dataclass
class AnomalyExport:
    root: Path
    normal_train: int
    normal_test: int
    abnormal: int
    masks: int


def to_anomaly_folders(index: pd.DataFrame, split: pd.Series, out_dir: str | Path, normal_classes: list[str],
                       train_side: str = "train", test_side: str = "test", masks: bool = True) -> AnomalyExport:
    """Pictures of normal_classes on train_side -> normal/train; on test_side -> normal/test; pictures
    of the other classes on test_side -> abnormal/. One file per picture (NEU-DET copy preferred)."""
    unknown = set(normal_classes) - set(index["class_name"])
    if unknown:
        raise DataError(None, f"normal classes not in the dataset: {', '.join(sorted(unknown))}")
    rows = index.assign(side=split).sort_values("source", key=lambda s: ~s.isin(BOXED_SOURCES)).drop_duplicates("picture_id")
    is_normal = rows["class_name"].isin(normal_classes)
    parts = {
        "normal/train": rows[is_normal & (rows["side"] == train_side)],
        "normal/test": rows[is_normal & (rows["side"] == test_side)],
        "abnormal": rows[~is_normal & (rows["side"] == test_side)],
    }
    if parts["normal/train"].empty:
        raise DataError(None, f"no normal pictures ({', '.join(normal_classes)}) on the {train_side!r} side")
    out_dir = Path(out_dir).resolve()
    n_masks = 0
    for folder, group in parts.items():
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
        for row in group.itertuples():
            name = f"{row.picture_id.replace('/', '__')}{Path(row.path).suffix}"
            shutil.copyfile(row.path, out_dir / folder / name)
            if folder == "abnormal" and masks and row.boxes:
                (out_dir / "masks").mkdir(exist_ok=True)
                box_mask(row.boxes, row.width, row.height).save(out_dir / "masks" / f"{Path(name).stem}.png")
                n_masks += 1
    protocol = {"normal_classes": list(normal_classes), "train_side": train_side, "test_side": test_side,
                "counts": {k: len(v) for k, v in parts.items()}, "masks": n_masks}
    (out_dir / "protocol.json").write_text(json.dumps(protocol, indent=2))
    return AnomalyExport(out_dir, len(parts["normal/train"]), len(parts["normal/test"]), len(parts["abnormal"]), n_masks)


def box_mask(boxes: list[dict], width: int, height: int) -> Image.Image:
    """Binary mask (0/255) that is 255 inside every usable box."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for box in clean_boxes(boxes, width, height)[0]:
        x0, y0 = int(np.floor(box["xmin"])), int(np.floor(box["ymin"]))
        mask[y0:int(np.ceil(box["ymax"])), x0:int(np.ceil(box["xmax"]))] = 255
    return Image.fromarray(mask)
